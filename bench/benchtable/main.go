// Command benchtable prints the report of certferry's benchmarks (package bench) from
// the JSON lines they append to CERTFERRY_BENCH_OUT: one row per scenario and tuning,
// the lego loop of the same N next to it, then issue 6's targets, each met or missed.
//
//	go run ./bench/benchtable results.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// row mirrors bench.row.
type row struct {
	Scenario    string         `json:"scenario"`
	Tool        string         `json:"tool"`
	Tuning      string         `json:"tuning"`
	Concurrency int            `json:"concurrency"`
	RPS         float64        `json:"rps"`
	Certs       int            `json:"certs"`
	Names       int            `json:"names"`
	Zones       int            `json:"zones"`
	WallS       float64        `json:"wall_s"`
	PassS       float64        `json:"pass_s"`
	Estimated   bool           `json:"estimated"`
	Route53     map[string]int `json:"route53"`
	SM          map[string]int `json:"secretsmanager"`
	ACME        map[string]int `json:"acme"`
	PeakRSSMB   float64        `json:"peak_rss_mb"`
	Failed      int            `json:"failed"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtable RESULTS.jsonl")
		os.Exit(2)
	}
	rows, err := read(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		os.Exit(1)
	}
	if !print(os.Stdout, rows) {
		os.Exit(1)
	}
}

func read(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// byOp renders "total (Op n, Op n)" with short operation names.
func byOp(m map[string]int) string {
	if total(m) == 0 {
		return "0"
	}
	short := strings.NewReplacer("ChangeResourceRecordSets", "Change", "ListResourceRecordSets", "ListRRSets",
		"ListHostedZonesByName", "ListZonesByName", "ListHostedZones", "ListZones")
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", short.Replace(op), m[op]))
	}
	return fmt.Sprintf("%d (%s)", total(m), strings.Join(parts, ", "))
}

func secs(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}

// print writes the table and the targets; it reports whether every target checked was met.
func print(w io.Writer, rows []row) bool {
	lego := map[string]row{}
	var cf []row
	for _, r := range rows {
		if r.Tool == "lego" {
			lego[r.Scenario] = r // the last run of a scenario wins
		} else {
			cf = append(cf, r)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\ttuning\twall (pass)\tRoute 53 calls (by op)\tSM calls (by op)\tACME reqs\tpeak RSS\tlego wall\tratio")
	for _, r := range cf {
		lw, ratio := "-", "-"
		if l, ok := lego[r.Scenario]; ok && r.Tuning == "tuned" {
			mark := ""
			if l.Estimated {
				mark = "~"
			}
			lw = mark + secs(l.WallS)
			if l.Estimated {
				lw += " (est.)"
			}
			ratio = fmt.Sprintf("%s%.1fx", mark, l.WallS/r.WallS)
		}
		tuning := fmt.Sprintf("%s (c=%d, %g/s)", r.Tuning, r.Concurrency, r.RPS)
		fmt.Fprintf(tw, "%s\t%s\t%s (%s)\t%s\t%s\t%d\t%.1f MB\t%s\t%s\n", r.Scenario, tuning, secs(r.WallS), secs(r.PassS),
			byOp(r.Route53), byOp(r.SM), total(r.ACME), r.PeakRSSMB, lw, ratio)
	}
	for _, s := range slices.Sorted(maps.Keys(lego)) {
		l := lego[s]
		if l.Estimated {
			continue
		}
		fmt.Fprintf(tw, "%s\tlego loop\t%s\t%s\t-\t%d\t%.1f MB (max of a run)\t\t\n", s, secs(l.WallS), byOp(l.Route53), total(l.ACME), l.PeakRSSMB)
	}
	_ = tw.Flush()

	find := func(scenario, tuning string) (row, bool) {
		for i := len(cf) - 1; i >= 0; i-- {
			if cf[i].Scenario == scenario && cf[i].Tuning == tuning {
				return cf[i], true
			}
		}
		return row{}, false
	}
	ok := true
	check := func(name string, met bool, detail string) {
		verdict := "met"
		if !met {
			verdict = "MISSED"
			ok = false
		}
		fmt.Fprintf(w, "  %-7s %s: %s\n", verdict, name, detail)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, tuning := range []string{"tuned", "defaults"} {
		n1, ok1 := find("N=1", tuning)
		n100, ok100 := find("N=100", tuning)
		if !ok1 || !ok100 {
			continue
		}
		name := "100 certificates <= 2x the wall time of 1 (" + tuning + ")"
		detail := fmt.Sprintf("%s vs %s = %.2fx", secs(n100.WallS), secs(n1.WallS), n100.WallS/n1.WallS)
		if tuning == "defaults" {
			// Reported for comparison; the targets apply to the tuned configuration.
			verdict := "met"
			if n100.WallS > 2*n1.WallS {
				verdict = "missed"
			}
			fmt.Fprintf(w, "  %-7s %s: %s (for information)\n", verdict, name, detail)
			continue
		}
		check(name, n100.WallS <= 2*n1.WallS, detail)
	}
	for _, r := range cf {
		if r.Zones == 0 || total(r.Route53) == 0 || r.Tuning != "tuned" {
			continue
		}
		perZone := float64(r.Route53["ChangeResourceRecordSets"]) / float64(r.Zones)
		check(fmt.Sprintf("<= 2 ChangeResourceRecordSets per zone (%s, %s)", r.Scenario, r.Tuning), perZone <= 2,
			fmt.Sprintf("%d over %d zones", r.Route53["ChangeResourceRecordSets"], r.Zones))
	}
	if n100, ok := find("N=100", "tuned"); ok {
		if l, ok := lego["N=100"]; ok {
			est := ""
			if l.Estimated {
				est = " (lego extrapolated from N=10)"
			}
			check("N=100 at least 20x faster than the lego loop", l.WallS >= 20*n100.WallS,
				fmt.Sprintf("lego %s vs %s = %.1fx%s", secs(l.WallS), secs(n100.WallS), l.WallS/n100.WallS, est))
		}
		check("peak RSS of the 100-certificate pass < 100 MB", n100.PeakRSSMB < 100, fmt.Sprintf("%.1f MB", n100.PeakRSSMB))
	}
	if idle, ok := find("idle1000", "tuned"); ok {
		check("idle pass over 1000: <= 10 Secrets Manager calls", total(idle.SM) <= 10, byOp(idle.SM))
		check("idle pass over 1000: < 1 s", idle.WallS < 1,
			fmt.Sprintf("%s for the whole `certferry renew` process, %s for the pass", secs(idle.WallS), secs(idle.PassS)))
	}
	return ok
}
