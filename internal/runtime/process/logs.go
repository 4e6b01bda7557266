package process

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
)

// An instance writes its output straight into its log file, so that it
// keeps running and logging when the server dies. Rotation is therefore
// copy-and-truncate: the file is copied to NAME.log.1 (older copies
// shifting to .2, .3 …) and truncated, and the instance, which writes with
// O_APPEND, goes on at its new end. A few lines written during the copy
// may be lost; that is the price logrotate's copytruncate pays too.
//
// Beside each log, NAME.log.idx holds checkpoints, "UNIX-SECONDS OFFSET",
// written each second the log grew: the instance's own lines carry no
// time teal can read, so --since starts at the last checkpoint before it.

// Log limits, unless the driver is told otherwise.
const (
	DefaultLogMaxSize   = 10 << 20 // rotate a log past this
	DefaultLogFiles     = 3        // rotated copies kept
	DefaultLogRetention = 72 * time.Hour
	maintainEvery       = time.Second
)

// Maintain rotates the logs of instances and forgets old ones until ctx is
// done: the logs of instances that no longer run go once untouched for
// the retention time, so that logs cannot fill the disk.
func (d *Driver) Maintain(ctx context.Context) {
	tick := time.NewTicker(maintainEvery)
	defer tick.Stop()
	sizes := map[string]int64{}
	lastSweep := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d.maintain(sizes)
		if time.Since(lastSweep) > time.Minute {
			d.sweep()
			lastSweep = time.Now()
		}
	}
}

func (d *Driver) limits() (maxSize int64, files int, retention time.Duration) {
	maxSize, files, retention = d.LogMaxSize, d.LogFiles, d.LogRetention
	if maxSize <= 0 {
		maxSize = DefaultLogMaxSize
	}
	if files <= 0 {
		files = DefaultLogFiles
	}
	if retention <= 0 {
		retention = DefaultLogRetention
	}
	return
}

// maintain checkpoints and rotates every current log; sizes remembers each
// log's size at the last checkpoint.
func (d *Driver) maintain(sizes map[string]int64) {
	maxSize, files, _ := d.limits()
	logs, _ := filepath.Glob(filepath.Join(d.LogDir, "*", "*.log"))
	now := time.Now()
	for _, path := range logs {
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if st.Size() != sizes[path] {
			appendCheckpoint(path, now, st.Size())
			sizes[path] = st.Size()
		}
		if st.Size() > maxSize {
			if err := rotate(path, files); err == nil {
				sizes[path] = 0
			}
		}
	}
}

func appendCheckpoint(path string, at time.Time, size int64) {
	f, err := os.OpenFile(path+".idx", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%d %d\n", at.Unix(), size)
	f.Close()
}

// rotate copies path to path.1, shifting older copies and their
// checkpoints, and truncates path.
func rotate(path string, files int) error {
	for i := files; i >= 1; i-- {
		from := path
		if i > 1 {
			from = path + "." + strconv.Itoa(i-1)
		}
		to := path + "." + strconv.Itoa(i)
		if i > 1 {
			os.Rename(from, to)
			os.Rename(from+".idx", to+".idx")
		}
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(path+".1", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	os.Rename(path+".idx", path+".1.idx")
	return os.Truncate(path, 0)
}

// sweep removes the logs of instances that have not written for the
// retention time and do not run.
func (d *Driver) sweep() {
	_, _, retention := d.limits()
	dirs, _ := filepath.Glob(filepath.Join(d.LogDir, "*"))
	for _, dir := range dirs {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, path := range logs {
			st, err := os.Stat(path)
			if err != nil || time.Since(st.ModTime()) < retention {
				continue
			}
			id := strings.TrimSuffix(filepath.Base(path), ".log")
			if pid, _ := findByInstance(id); pid != 0 {
				continue // quiet, but running
			}
			olds, _ := filepath.Glob(path + "*")
			for _, p := range olds {
				os.Remove(p)
			}
		}
	}
}

var _ runtime.LogReader = (*Driver)(nil)

// Logs returns what an instance wrote, while it runs and after, until its
// log is swept: the lines written since opts.Since (to the second), or the
// last opts.Tail lines, or all; with Follow it goes on with what is
// written until ctx is done.
func (d *Driver) Logs(ctx context.Context, service, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	path, ok := d.logPath(service, id)
	if !ok {
		return nil, fmt.Errorf("instance %s of %s: %w", id, service, runtime.ErrNoLogs)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("instance %s of %s: %w", id, service, runtime.ErrNoLogs)
	}
	return readLog(ctx, path, opts)
}

// Logged lists the instances of service that have a log, the most
// recently written last.
func (d *Driver) Logged(service string) []string {
	dir, ok := d.logPath(service, "x")
	if !ok {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "*.log"))
	type logged struct {
		id  string
		mod time.Time
	}
	var ls []logged
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			ls = append(ls, logged{strings.TrimSuffix(filepath.Base(p), ".log"), st.ModTime()})
		}
	}
	sort.SliceStable(ls, func(a, b int) bool { return ls[a].mod.Before(ls[b].mod) })
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.id
	}
	return ids
}

// logPath is where an instance's log is; false for names that would
// lead out of the log directory.
func (d *Driver) logPath(service, id string) (string, bool) {
	for _, name := range []string{service, id} {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return "", false
		}
	}
	return filepath.Join(d.LogDir, service, id+".log"), true
}

// readLog reads a log and its rotated copies, oldest first.
func readLog(ctx context.Context, path string, opts runtime.LogOptions) (io.ReadCloser, error) {
	copies, _ := filepath.Glob(path + ".[0-9]*")
	copies = slicesFilter(copies, func(p string) bool { return !strings.HasSuffix(p, ".idx") })
	sort.Slice(copies, func(a, b int) bool { return rotationOf(copies[a]) > rotationOf(copies[b]) }) // .3, .2, .1
	files := append(copies, path)

	var buf bytes.Buffer
	end := int64(0) // where reading path stopped: following goes on from there
	for _, f := range files {
		start := int64(0)
		if !opts.Since.IsZero() {
			start = offsetSince(f, opts.Since)
			if start < 0 {
				continue // all of it is older
			}
		}
		if b, err := readFrom(f, start); err == nil {
			buf.Write(b)
			if f == path {
				end = start + int64(len(b))
			}
		}
	}
	data := buf.Bytes()
	if opts.Tail > 0 {
		data = lastLines(data, opts.Tail)
	}
	if !opts.Follow {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	pr, pw := io.Pipe()
	go follow(ctx, path, data, end, pw)
	return pr, nil
}

// follow writes what is already read, then what is written to path from
// offset on, until ctx is done; a truncation (a rotation) starts it again
// at the top. The offset is where the first read stopped, not the file's
// size when following begins: lines written in between would be lost.
func follow(ctx context.Context, path string, first []byte, offset int64, pw *io.PipeWriter) {
	if _, err := pw.Write(first); err != nil {
		return
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			pw.Close()
			return
		case <-tick.C:
		}
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if st.Size() < offset {
			offset = 0 // rotated
		}
		if st.Size() == offset {
			continue
		}
		b, err := readFrom(path, offset)
		if err != nil {
			continue
		}
		offset += int64(len(b))
		if _, err := pw.Write(b); err != nil {
			return
		}
	}
}

// offsetSince returns where in a log the lines written at or after since
// begin, by its checkpoints; -1 when the whole file is older.
func offsetSince(path string, since time.Time) int64 {
	f, err := os.Open(path + ".idx")
	if err != nil {
		if st, err := os.Stat(path); err == nil && st.ModTime().Before(since) {
			return -1
		}
		return 0
	}
	defer f.Close()
	offset, sc := int64(0), bufio.NewScanner(f)
	for sc.Scan() {
		var at, size int64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &at, &size); err != nil {
			continue
		}
		if at < since.Unix() {
			offset = size
		}
	}
	if st, err := os.Stat(path); err == nil && offset >= st.Size() && st.ModTime().Before(since) {
		return -1
	}
	return offset
}

func readFrom(path string, offset int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	idx := len(b)
	for range n {
		i := bytes.LastIndexByte(b[:idx], '\n')
		if i < 0 {
			return append(b, '\n')
		}
		idx = i
	}
	return append(b[idx+1:], '\n')
}

func rotationOf(path string) int {
	n, _ := strconv.Atoi(path[strings.LastIndexByte(path, '.')+1:])
	return n
}

func slicesFilter(xs []string, keep func(string) bool) []string {
	out := xs[:0]
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
