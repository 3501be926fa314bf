package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuTimes is the machine-wide line of /proc/stat: jiffies spent per state.
type cpuTimes struct {
	total, steal uint64
	ok           bool
}

// readCPUTimes reads /proc/stat's "cpu" line; ok is false where there is none.
func readCPUTimes() cpuTimes {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, s := range fields[1:] {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}
			}
			t.total += n
			if i == 7 { // user nice system idle iowait irq softirq steal ...
				t.steal = n
			}
		}
		t.ok = true
		return t
	}
	return cpuTimes{}
}

// stealPct is the share of the machine's CPU time, in percent, that the hypervisor took
// between two readings; ok is false when the readings cannot tell.
func stealPct(before, after cpuTimes) (pct float64, ok bool) {
	if !before.ok || !after.ok || after.total <= before.total {
		return 0, false
	}
	return 100 * float64(after.steal-before.steal) / float64(after.total-before.total), true
}

// stealLine says what share of the machine's CPU time the hypervisor took between two
// readings: figures from a run with much steal are not comparable with a quiet run's.
func stealLine(before, after cpuTimes) string {
	pct, ok := stealPct(before, after)
	if !ok {
		return ""
	}
	return fmt.Sprintf("CPU steal during the run: %.0f%% of the machine's CPU time (/proc/stat)", pct)
}
