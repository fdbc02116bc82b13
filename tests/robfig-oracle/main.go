// Command robfig-oracle evaluates cron schedules exactly as the Kubernetes
// CronJob controller does, with github.com/robfig/cron/v3 v3.0.1, so that
// jobcd's own implementation can be checked against it
// (tests/schedule_oracle.rs).
//
// Case mode (default) reads one case per line from stdin:
//
//	<zone> TAB <start, RFC 3339> TAB <n> TAB <schedule>
//
// zone is empty for "spec.timeZone unset, controller in UTC" or an IANA name.
// In the schedule, `\\`, `\n` and `\r` stand for a backslash, a line feed and
// a carriage return; everything else (tabs included) is taken as it is.
// For each case it prints one line: `OK t1 t2 ...` with up to n chained
// Next() results in UTC (fewer when Next gives the zero time), or
// `ERR <message>` when the API server would reject the schedule.
//
// Bench mode measures Next() throughput for one schedule:
//
//	robfig-oracle -bench [-zone Europe/Berlin] [-seconds 1] '0 9 * * MON-FRI'
//
// and prints `calls_per_sec=N ns_per_call=X calls=C seconds=S`. Calls chain
// from 2025-01-01T00:00:00Z and start again from there after 2035-01-01 or
// when the schedule runs out.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Bench mode chains Next() from benchStart and starts again from there when
// the schedule runs out or passes benchEnd, so that every call falls in the
// years a real controller sees.
var (
	benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	benchEnd   = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
)

func main() {
	// A standard kube-controller-manager runs in UTC; robfig's default
	// location is time.Local.
	time.Local = time.UTC

	bench := flag.Bool("bench", false, "measure Next() throughput for the schedule given as argument")
	zone := flag.String("zone", "", "bench mode: spec.timeZone (empty: unset)")
	seconds := flag.Float64("seconds", 1, "bench mode: how long to measure")
	flag.Parse()

	if *bench {
		if flag.NArg() != 1 {
			fmt.Fprintln(os.Stderr, "usage: robfig-oracle -bench [-zone Z] [-seconds S] SCHEDULE")
			os.Exit(2)
		}
		if err := runBench(flag.Arg(0), *zone, *seconds); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := runCases(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// parse follows the Kubernetes code path: API-server validation of
// spec.schedule, then the controller's parse with spec.timeZone.
func parse(schedule, zone string) (cron.Schedule, error) {
	if strings.Contains(schedule, "TZ") {
		return nil, errors.New("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
	}
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return nil, err
	}
	if zone == "" {
		return sched, nil
	}
	return cron.ParseStandard("TZ=" + zone + " " + schedule)
}

func runCases(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<16)
	w := bufio.NewWriterSize(out, 1<<16)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			fmt.Fprintln(w, evaluate(strings.TrimSuffix(line, "\n")))
		}
		// Answer everything read so far before waiting for more input.
		if r.Buffered() == 0 || err != nil {
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// evaluate answers one input line.
func evaluate(line string) (answer string) {
	defer func() {
		if p := recover(); p != nil {
			answer = "ERR panic: " + escape(fmt.Sprint(p))
		}
	}()
	parts := strings.SplitN(line, "\t", 4)
	if len(parts) != 4 {
		return "ERR bad input line: " + escape(line)
	}
	zone, schedule := parts[0], unescape(parts[3])
	start, err := time.Parse(time.RFC3339Nano, parts[1])
	if err != nil {
		return "ERR bad start: " + escape(err.Error())
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return "ERR bad count: " + escape(err.Error())
	}
	sched, err := parse(schedule, zone)
	if err != nil {
		return "ERR " + escape(err.Error())
	}
	var b strings.Builder
	b.WriteString("OK")
	t := start.UTC()
	for range n {
		t = sched.Next(t)
		if t.IsZero() {
			break
		}
		b.WriteByte(' ')
		b.WriteString(t.UTC().Format(time.RFC3339))
	}
	return b.String()
}

var (
	unescaper = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r")
	escaper   = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
)

func unescape(s string) string { return unescaper.Replace(s) }
func escape(s string) string   { return escaper.Replace(s) }

func runBench(schedule, zone string, seconds float64) error {
	sched, err := parse(schedule, zone)
	if err != nil {
		return err
	}
	budget := time.Duration(seconds * float64(time.Second))
	calls := 0
	t := benchStart
	began := time.Now()
	elapsed := time.Duration(0)
	for elapsed < budget {
		// Check the clock every 1024 calls only.
		for range 1024 {
			t = sched.Next(t)
			if t.IsZero() || t.After(benchEnd) {
				t = benchStart
			}
		}
		calls += 1024
		elapsed = time.Since(began)
	}
	secs := elapsed.Seconds()
	fmt.Printf("calls_per_sec=%.0f ns_per_call=%.1f calls=%d seconds=%.3f\n",
		float64(calls)/secs, float64(elapsed.Nanoseconds())/float64(calls), calls, secs)
	return nil
}
