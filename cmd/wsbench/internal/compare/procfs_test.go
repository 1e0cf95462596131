package compare

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// The fields after the command name: state ppid pgrp session tty_nr
	// tpgid flags minflt cminflt majflt cmajflt utime stime cutime ...
	const rest = " S 41 42 42 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 3 0 100 0 0"
	tests := []struct {
		name    string
		stat    string
		want    procStat
		wantErr bool
	}{
		{"plain", "42 (nginx)" + rest, procStat{pid: 42, ppid: 41, utime: 1234, stime: 567}, false},
		{"spaces in comm", "42 (nginx: worker process)" + rest, procStat{pid: 42, ppid: 41, utime: 1234, stime: 567}, false},
		{"parentheses in comm", "42 (a) (b))" + rest, procStat{pid: 42, ppid: 41, utime: 1234, stime: 567}, false},
		{"newline at the end", "42 (x)" + rest + "\n", procStat{pid: 42, ppid: 41, utime: 1234, stime: 567}, false},
		{"no comm", "42 x" + rest, procStat{}, true},
		{"bad pid", "x (x)" + rest, procStat{}, true},
		{"too few fields", "42 (x) S 41 42", procStat{}, true},
		{"bad utime", "42 (x) S 41 42 42 0 -1 4194560 100 0 0 0 zz 567 0", procStat{}, true},
		{"empty", "", procStat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.stat))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSchedstat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"three fields", "340577 6700 2\n", 340577, false},
		{"large", "98765432101234 0 0", 98765432101234, false},
		{"empty", "", 0, true},
		{"not a number", "x 1 2", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSchedstat([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"present", "Name:\tnginx\nVmPeak:\t  9000 kB\nVmRSS:\t    4321 kB\nRssAnon:\t 100 kB\n", 4321, false},
		{"kernel thread", "Name:\tkworker/0:1\nState:\tI (idle)\n", 0, false},
		{"not kB", "VmRSS:\t 4321 MB\n", 0, true},
		{"not a number", "VmRSS:\t x kB\n", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCPUNs(t *testing.T) {
	tests := []struct {
		name          string
		before, after cpuSample
		want          int64
	}{
		{"schedstat", cpuSample{schedNs: 1000, haveSched: true, ticks: 1}, cpuSample{schedNs: 5000, haveSched: true, ticks: 1}, 4000},
		{"ticks without schedstat", cpuSample{ticks: 10}, cpuSample{ticks: 13}, 30_000_000},
		{"schedstat missing once", cpuSample{schedNs: 1000, haveSched: true, ticks: 10}, cpuSample{ticks: 11}, 10_000_000},
		{"a thread exited: schedstat went back", cpuSample{schedNs: 9000, haveSched: true, ticks: 10}, cpuSample{schedNs: 100, haveSched: true, ticks: 12}, 20_000_000},
		{"both went back", cpuSample{ticks: 12}, cpuSample{ticks: 10}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cpuNs(tc.before, tc.after); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// TestProcFS_tree walks the test's own process tree, with a child
// sleep in it, and reads its CPU time and memory.
func TestProcFS_tree(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Skip("no sleep to start:", err)
	}
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
	})

	self := os.Getpid()
	pids, err := proc.tree(self)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) == 0 || pids[0] != self {
		t.Fatalf("tree = %v, want it to start with %d", pids, self)
	}
	if !slices.Contains(pids, sleep.Process.Pid) {
		t.Errorf("tree = %v, want it to hold the child sleep %d", pids, sleep.Process.Pid)
	}
	if _, err := proc.tree(1 << 30); err == nil {
		t.Error("tree of a process that does not exist: no error")
	}

	// Burn some CPU so that the tree's CPU time moves.
	before, err := proc.treeCPU(self)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 30*time.Millisecond; {
	}
	after, err := proc.treeCPU(self)
	if err != nil {
		t.Fatal(err)
	}
	if before.haveSched != after.haveSched {
		t.Errorf("schedstat present in one sample only: %+v, %+v", before, after)
	}
	if ns := cpuNs(before, after); ns <= 0 {
		t.Errorf("CPU time did not grow: %+v then %+v", before, after)
	}

	rss, err := proc.treeRSS(self)
	if err != nil {
		t.Fatal(err)
	}
	own, err := proc.treeRSS(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if own <= 0 || rss <= own {
		t.Errorf("RSS of the tree %d KiB, of the sleep alone %d KiB: want 0 < sleep < tree", rss, own)
	}
}
