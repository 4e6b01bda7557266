package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
)

// counter starts a process that prints "line N" every few milliseconds.
func counter(t *testing.T, d *Driver, id string) runtime.Instance {
	t.Helper()
	in, err := d.Start(context.Background(), runtime.InstanceSpec{
		ID: id, Service: "test", Revision: 1, Slot: spec.Blue,
		Process: &spec.Process{Command: []string{"sh", "-c", `i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.005; done`}, Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(context.Background(), time.Second) })
	return in
}

func lineNumbers(t *testing.T, r io.Reader) []int {
	t.Helper()
	var ns []int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "line "))
		if err != nil {
			continue // a line cut by a rotation
		}
		ns = append(ns, n)
	}
	return ns
}

// A log past its size is rotated into numbered copies, no more than the
// driver keeps, and reading it gives the lines in the order written.
func TestLogRotation(t *testing.T) {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ(), LogMaxSize: 2000, LogFiles: 2}
	in := counter(t, d, "rot-1")
	sizes := map[string]int64{}
	deadline := time.Now().Add(10 * time.Second)
	path := filepath.Join(d.LogDir, "test", "rot-1.log")
	for time.Now().Before(deadline) {
		d.maintain(sizes)
		if _, err := os.Stat(path + ".2"); err == nil {
			d.maintain(sizes)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A few more rotations, to see that no third copy appears.
	for range 4 {
		time.Sleep(150 * time.Millisecond)
		d.maintain(sizes)
	}
	if _, err := os.Stat(path + ".2"); err != nil {
		t.Fatalf("no second rotated copy: %v", err)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("a third copy was kept; the driver keeps 2")
	}
	r, err := d.Logs(context.Background(), "test", in.ID(), runtime.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns := lineNumbers(t, r)
	if len(ns) < 100 {
		t.Fatalf("read %d lines, want the lines of three files", len(ns))
	}
	for i := 1; i < len(ns); i++ {
		if ns[i] <= ns[i-1] {
			t.Fatalf("line %d comes after line %d", ns[i], ns[i-1])
		}
	}
}

// Tail gives the last lines; Follow goes on with what is written.
func TestLogTailAndFollow(t *testing.T) {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ()}
	in := counter(t, d, "tail-1")
	time.Sleep(200 * time.Millisecond)
	r, err := d.Logs(context.Background(), "test", in.ID(), runtime.LogOptions{Tail: 3})
	if err != nil {
		t.Fatal(err)
	}
	ns := lineNumbers(t, r)
	if len(ns) != 3 || ns[2] != ns[0]+2 || ns[0] == 0 {
		t.Fatalf("tail 3 gave %v", ns)
	}

	if got := d.Logged("test"); len(got) != 1 || got[0] != "tail-1" {
		t.Errorf("logged instances: %v, want [tail-1]", got)
	}
	for _, id := range []string{"gone-1", "../test/tail-1", ".."} {
		if _, err := d.Logs(context.Background(), "test", id, runtime.LogOptions{}); !errors.Is(err, runtime.ErrNoLogs) {
			t.Errorf("logs of %q: %v, want ErrNoLogs", id, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err = d.Logs(ctx, "test", in.ID(), runtime.LogOptions{Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	var seen []string
	for len(seen) < 20 && sc.Scan() {
		seen = append(seen, sc.Text())
	}
	if len(seen) < 20 {
		t.Fatalf("follow gave %d lines before %v: %v", len(seen), ctx.Err(), seen)
	}
	first, _ := strconv.Atoi(strings.TrimPrefix(seen[0], "line "))
	last, _ := strconv.Atoi(strings.TrimPrefix(seen[19], "line "))
	if last != first+19 {
		t.Errorf("follow skipped or repeated lines: %v", seen)
	}
}

// Since starts at the checkpoint before the time asked for, across the
// rotated copies.
func TestLogSince(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	base := time.Unix(1_800_000_000, 0)
	write := func(p, body string, checkpoints ...int64) {
		os.WriteFile(p, []byte(body), 0o640)
		var idx strings.Builder
		for i, off := range checkpoints {
			fmt.Fprintf(&idx, "%d %d\n", base.Add(time.Duration(i)*time.Minute).Unix(), off)
		}
		os.WriteFile(p+".idx", []byte(idx.String()), 0o640)
		os.Chtimes(p, base.Add(time.Hour), base.Add(time.Hour))
	}
	// The copy holds minutes 0–1, the current log minutes 2–3 (its
	// checkpoints' times are shifted by two minutes below).
	write(path+".1", "a\nb\n", 2, 4)
	os.WriteFile(path, []byte("c\nd\n"), 0o640)
	os.WriteFile(path+".idx", []byte(fmt.Sprintf("%d 2\n%d 4\n", base.Add(2*time.Minute).Unix(), base.Add(3*time.Minute).Unix())), 0o640)

	for _, c := range []struct {
		since time.Time
		want  string
	}{
		{time.Time{}, "a\nb\nc\nd\n"},
		{base, "a\nb\nc\nd\n"},
		{base.Add(time.Minute), "b\nc\nd\n"},
		{base.Add(3 * time.Minute), "d\n"},
	} {
		r, err := readLog(context.Background(), path, runtime.LogOptions{Since: c.since})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		if string(b) != c.want {
			t.Errorf("since %v: got %q, want %q", c.since.Sub(base), b, c.want)
		}
	}
}

// The logs of an instance that no longer runs go after the retention
// time; a running instance's quiet log stays.
func TestLogSweep(t *testing.T) {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ(), LogRetention: time.Hour}
	in, err := d.Start(context.Background(), runtime.InstanceSpec{
		ID: "quiet-1", Service: "test", Revision: 1, Slot: spec.Blue,
		Process: &spec.Process{Command: []string{"sleep", "300"}, Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop(context.Background(), time.Second)
	old := time.Now().Add(-2 * time.Hour)
	gone := filepath.Join(d.LogDir, "test", "gone-1.log")
	recent := filepath.Join(d.LogDir, "test", "recent-1.log")
	quiet := filepath.Join(d.LogDir, "test", "quiet-1.log")
	for _, p := range []string{gone, gone + ".1", gone + ".idx", recent} {
		os.WriteFile(p, []byte("x\n"), 0o640)
	}
	for _, p := range []string{gone, gone + ".1", gone + ".idx", quiet} {
		os.Chtimes(p, old, old)
	}
	d.sweep()
	for _, p := range []string{gone, gone + ".1", gone + ".idx"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was kept past its retention", filepath.Base(p))
		}
	}
	for _, p := range []string{recent, quiet} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}

// Lines written between the first read and the start of following are
// followed, not skipped: following goes on from where the read stopped.
func TestFollowMissesNothingWrittenMeanwhile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	if err := os.WriteFile(path, []byte("line 1\nline 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := readLog(ctx, path, runtime.LogOptions{Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Nothing is read yet: the follower waits to hand over line 2 while
	// line 3 is written.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("line 3\n")
	f.Close()
	time.Sleep(50 * time.Millisecond)
	sc := bufio.NewScanner(r)
	var got []string
	for len(got) < 2 && sc.Scan() {
		got = append(got, sc.Text())
	}
	if strings.Join(got, ",") != "line 2,line 3" {
		t.Fatalf("followed %q; want line 2, then line 3", got)
	}
}
