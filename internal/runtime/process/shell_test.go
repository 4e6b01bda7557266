package process

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
)

// metachars returns arguments that a shell would run as commands, each
// creating a file in dir, and the files they would create.
func metachars(dir string) (args, files []string) {
	for i, form := range []string{"$(touch %s)", "`touch %s`", "; touch %s", "&& touch %s", "| touch %s", "\n touch %s", "> %s"} {
		f := filepath.Join(dir, "ran-"+string(rune('a'+i)))
		args = append(args, strings.Replace(form, "%s", f, 1))
		files = append(files, f)
	}
	return args, files
}

// An instance's command runs without a shell: arguments a shell would run
// reach the program as they are written, and nothing they name is run.
// A configuration that wants a shell says so, and then gets one.
func TestCommandsRunWithoutAShell(t *testing.T) {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ()}
	dir := t.TempDir()
	args, files := metachars(dir)
	run := func(id string, command []string, env map[string]string) string {
		in, err := d.Start(context.Background(), runtime.InstanceSpec{
			ID: id, Service: "test", Revision: 1, Slot: spec.Blue,
			Process: &spec.Process{Command: command, Env: env, Dir: dir},
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-in.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not exit", command[0])
		}
		return strings.Join(in.LogTail(100), "\n")
	}

	out := run("literal-1", append([]string{"echo"}, args...), map[string]string{"X": args[0]})
	for _, a := range args {
		if !strings.Contains(out, strings.TrimSpace(a)) {
			t.Errorf("the argument %q did not reach the program as written; it printed:\n%s", a, out)
		}
	}
	out = run("literal-2", []string{"printenv", "X"}, map[string]string{"X": args[0]})
	if strings.TrimSpace(out) != args[0] {
		t.Errorf("an env value was changed on its way: %q", out)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s exists: an argument was run by a shell", f)
		}
	}

	// The same words, given to a shell the configuration asks for, run.
	run("shell-1", []string{"sh", "-c", "touch " + files[0]}, nil)
	if _, err := os.Stat(files[0]); err != nil {
		t.Errorf("sh -c, asked for, did not run: %v", err)
	}
}
