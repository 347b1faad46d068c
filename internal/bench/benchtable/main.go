// Command benchtable prints the report of certferry's benchmarks (package bench) from
// the JSON lines they append to CERTFERRY_BENCH_OUT: one table with a row per scenario
// (certferry with its defaults, the previous defaults, the lego and certbot loops of the
// same N and their ratios to certferry; the daemon's idle RSS and the Lambda function's
// cold start), the calls each made, then the targets, each met or missed.
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
	IdleRSSMB   float64        `json:"idle_rss_mb"`
	WarmS       float64        `json:"warm_s"`
	InitMS      float64        `json:"init_ms"`
	ArithmeticS float64        `json:"arithmetic_s"`
	Runs        int            `json:"runs"`
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

// wall renders a loop's wall time, "~" and "(est.)" when extrapolated.
func wall(r row) string {
	if r.Estimated {
		return "~" + secs(r.WallS) + " (est.)"
	}
	return secs(r.WallS)
}

// ratio renders other/cf, "~" when other was extrapolated.
func ratio(other, cf row) string {
	if cf.WallS <= 0 {
		return "-"
	}
	mark := ""
	if other.Estimated {
		mark = "~"
	}
	return fmt.Sprintf("%s%.1fx", mark, other.WallS/cf.WallS)
}

// runs holds the last run of each (tool or tuning, scenario).
type runs map[[2]string]row

func (r runs) find(key, scenario string) (row, bool) {
	x, ok := r[[2]string{key, scenario}]
	return x, ok
}

// smPerCert is a run's Secrets Manager calls per certificate, with the calls by op.
func smPerCert(r row) string {
	if r.Certs == 0 || total(r.SM) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%s)", float64(total(r.SM))/float64(r.Certs), byOp(r.SM))
}

// print writes the table and the targets; it reports whether every target checked was met.
func print(w io.Writer, rows []row) bool {
	last := runs{}
	var scenarios []string
	for _, r := range rows {
		key := r.Tool
		if r.Tool == "certferry" {
			key = r.Tuning
		}
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		last[[2]string{key, r.Scenario}] = r
	}
	order := []string{"N=1", "N=10", "N=100", "SAN50", "idle1000", "onboard70", "daemon-idle", "lambda-cold"}
	slices.SortStableFunc(scenarios, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return ia - ib
	})
	printTable(w, last, scenarios)
	return printTargets(w, last, scenarios)
}

// printTable writes one line per scenario, certferry beside the other tools.
func printTable(w io.Writer, last runs, scenarios []string) {
	find := last.find
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcertferry\tprevious defaults\tlego loop\tcertbot loop\tlego/certferry\tcertbot/certferry\tpeak RSS\tRoute 53 calls (by op)\tACME reqs (new-nonce)\tSecrets Manager calls per certificate")
	for _, sc := range scenarios {
		cf, ok := find("defaults", sc)
		switch sc {
		case "daemon-idle":
			if ok {
				fmt.Fprintf(tw, "daemon idle RSS (%d certs stored)\t%.1f MB idle (first pass %s)\t\t\t\t\t\t\t\t\t\n", cf.Certs, cf.IdleRSSMB, secs(cf.WallS))
			}
			continue
		case "onboard70":
			if ok {
				fmt.Fprintf(tw, "onboarding %d certs inside the CA's limits\t%s over %d runs (arithmetic minimum %s)\t\t\t\t\t\t%.1f MB\t\t%d rateLimited\n",
					cf.Certs, secs(cf.WallS), cf.Runs, secs(cf.ArithmeticS), cf.PeakRSSMB, cf.ACME["RateLimited"])
			}
			continue
		case "lambda-cold":
			if ok {
				fmt.Fprintf(tw, "Lambda cold start (nothing due)\tfirst invoke %s (warm invoke %s)\t\t\t\t\t\t\t\t\t\n", secs(cf.WallS), secs(cf.WarmS))
			}
			continue
		}
		cell := func(key string) string {
			r, ok := find(key, sc)
			if !ok {
				return "-"
			}
			return wall(r)
		}
		lr, cr := "-", "-"
		if l, lok := find("lego", sc); lok && ok {
			lr = ratio(l, cf)
		}
		if c, cok := find("certbot", sc); cok && ok {
			cr = ratio(c, cf)
		}
		cfWall, rss, r53, acme, sm := "-", "-", "-", "-", "-"
		if ok {
			cfWall = secs(cf.WallS)
			if cf.PassS > 0 {
				cfWall += " (pass " + secs(cf.PassS) + ")"
			}
			rss = fmt.Sprintf("%.1f MB", cf.PeakRSSMB)
			r53 = byOp(cf.Route53)
			acme = fmt.Sprintf("%d (%d)", total(cf.ACME), cf.ACME["NewNonce"])
			sm = smPerCert(cf)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc, cfWall, cell("previous"), cell("lego"), cell("certbot"), lr, cr, rss, r53, acme, sm)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\ncertferry: `certferry renew` with the default settings (concurrency 50, per-endpoint pacing); previous defaults:"+
		" concurrency 10, acme.requests_per_second 50; loops: one `lego run` / `certbot certonly` per certificate."+
		" Wall times of whole processes; the machine is shared, so expect noise.")

}

// printTargets checks the targets against the default settings' runs; it reports
// whether every target checked was met.
func printTargets(w io.Writer, last runs, scenarios []string) bool {
	find := last.find
	ok := true
	check := func(name string, met bool, detail string) {
		verdict := "met"
		if !met {
			verdict = "MISSED"
			ok = false
		}
		fmt.Fprintf(w, "  %-7s %s: %s\n", verdict, name, detail)
	}
	fmt.Fprintln(w, "\ntargets (default settings):")
	n1, ok1 := find("defaults", "N=1")
	if cb, okc := find("certbot", "N=1"); ok1 && okc {
		check("one certificate no slower than certbot", n1.WallS <= cb.WallS, fmt.Sprintf("%s vs certbot %s", secs(n1.WallS), secs(cb.WallS)))
	}
	n100, ok100 := find("defaults", "N=100")
	if ok1 && ok100 {
		check("100 certificates <= 1.5x the wall time of 1", n100.WallS <= 1.5*n1.WallS,
			fmt.Sprintf("%s vs %s = %.2fx", secs(n100.WallS), secs(n1.WallS), n100.WallS/n1.WallS))
	}
	for _, sc := range scenarios {
		r, found := find("defaults", sc)
		if !found || r.Zones == 0 || total(r.Route53) == 0 || r.Runs > 1 { // onboard70: several runs
			continue
		}
		perZone := float64(r.Route53["ChangeResourceRecordSets"]) / float64(r.Zones)
		check(fmt.Sprintf("<= 2 ChangeResourceRecordSets per zone per pass (%s)", sc), perZone <= 2,
			fmt.Sprintf("%d over %d zones", r.Route53["ChangeResourceRecordSets"], r.Zones))
	}
	if o, found := find("defaults", "onboard70"); found {
		check("onboarding inside the CA's limits: no rateLimited answer", o.ACME["RateLimited"] == 0,
			fmt.Sprintf("%d over %d runs, %s against an arithmetic minimum of %s", o.ACME["RateLimited"], o.Runs, secs(o.WallS), secs(o.ArithmeticS)))
	}
	if d, found := find("defaults", "daemon-idle"); found {
		check("idle daemon RSS <= 25 MB", d.IdleRSSMB <= 25, fmt.Sprintf("%.1f MB", d.IdleRSSMB))
	}
	if ok100 {
		if l, found := find("lego", "N=100"); found {
			est := ""
			if l.Estimated {
				est = " (lego extrapolated from N=10)"
			}
			check("N=100 at least 20x faster than the lego loop", l.WallS >= 20*n100.WallS,
				fmt.Sprintf("lego %s vs %s = %.1fx%s", secs(l.WallS), secs(n100.WallS), l.WallS/n100.WallS, est))
		}
		check("peak RSS of the 100-certificate pass < 100 MB", n100.PeakRSSMB < 100, fmt.Sprintf("%.1f MB", n100.PeakRSSMB))
	}
	if n1, found := find("defaults", "N=1"); found && n1.Certs > 0 {
		check("one issued certificate: <= 7 Secrets Manager calls in all (inventory and account read included)", total(n1.SM) <= 7, byOp(n1.SM))
	}
	if idle, found := find("defaults", "idle1000"); found {
		check("idle pass over 1000: <= 10 Secrets Manager calls", total(idle.SM) <= 10, byOp(idle.SM))
		check("idle pass over 1000: < 1 s", idle.WallS < 1,
			fmt.Sprintf("%s for the whole `certferry renew` process, %s for the pass", secs(idle.WallS), secs(idle.PassS)))
	}
	return ok
}
