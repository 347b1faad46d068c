package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/certferry/certferry/config"
)

// BenchmarkCoordination measures what the lease costs (docs/coordination.md): the
// DynamoDB calls of a pass that issues ten certificates with coordination on, per
// renewed certificate, and of the idle pass that follows (none by design).
func BenchmarkCoordination(b *testing.B) {
	bin := certferryBin(b)
	b.StopTimer()
	sb := benchSandbox(b)
	info := sb.Info()
	coordinated := func(cs []certSpec) string {
		path := writeConfig(b, b.TempDir(), info, cs, defaults)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "coordination:\n  dynamodb_table: %s\n  lease_duration: %s\n", info.LeaseTable, config.DefaultLeaseDuration)
		return path
	}
	if warm := runCLI(b, bin, coordinated(singleNames("warm-", 1)), info); warm.ExitCode != 0 {
		b.Fatalf("warm-up pass: exit %d\n%s", warm.ExitCode, tail(warm.Stderr, 4000))
	}
	var perCert, idle float64
	for i := range b.N {
		cs := singleNames(fmt.Sprintf("c%d-", i), 10)
		cfg := coordinated(cs)
		sb.Calls().Reset()
		b.StartTimer()
		res := runCLI(b, bin, cfg, info)
		b.StopTimer()
		if res.ExitCode != 0 || res.Summary.count("issue") != len(cs) {
			b.Fatalf("pass: exit %d, %d of %d issued\n%s", res.ExitCode, res.Summary.count("issue"), len(cs), tail(res.Stderr, 4000))
		}
		perCert += float64(sb.Calls().ServiceTotal("dynamodb")) / float64(len(cs))
		sb.Calls().Reset()
		if res := runCLI(b, bin, cfg, info); res.ExitCode != 0 || res.Summary.count("skip") != len(cs) {
			b.Fatalf("idle pass: exit %d\n%s", res.ExitCode, tail(res.Stderr, 4000))
		}
		idle += float64(sb.Calls().ServiceTotal("dynamodb"))
	}
	b.ReportMetric(perCert/float64(b.N), "dynamodb_calls/renewed_cert")
	b.ReportMetric(idle/float64(b.N), "dynamodb_calls/idle_pass")
}
