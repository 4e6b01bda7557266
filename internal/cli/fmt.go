package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/teal-deploy/teal/internal/config"
)

// ExitUnformatted is what `teal fmt -check` exits with when a file is not
// formatted, as `terraform fmt -check` does.
const ExitUnformatted = 3

func runFmt(e *env, args []string) error {
	fs := newFlagSet(e, "fmt", "[flags] [DIR]")
	check := fs.Bool("check", false, "only list files that are not formatted; exit 3 if there are any")
	recursive := fs.Bool("recursive", false, "also format the directories below DIR (modules), except hidden ones")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	dir, err := atMostOne("fmt", pos, ".")
	if err != nil {
		return err
	}
	paths, err := config.Files(dir)
	if err != nil {
		return err
	}
	if *recursive {
		if paths, err = filesBelow(dir, paths); err != nil {
			return err
		}
	}
	unformatted := 0
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out, diags := config.Format(p, src)
		if diags.HasErrors() {
			diags.Write(e.stderr)
			return &exitError{code: ExitUsage, err: errors.New("cannot format a file that does not parse"), quiet: true}
		}
		if bytes.Equal(out, src) {
			continue
		}
		unformatted++
		fmt.Fprintln(e.stdout, p)
		if !*check {
			if err := writeFileAtomic(p, out); err != nil {
				return err
			}
		}
	}
	if *check && unformatted > 0 {
		return &exitError{code: ExitUnformatted, err: fmt.Errorf("%d files are not formatted", unformatted), quiet: true}
	}
	return nil
}

// filesBelow adds to paths the configuration files of every directory
// below dir, in lexical order, leaving out hidden directories (.teal,
// where the server keeps its data; .git) as they are not configuration.
func filesBelow(dir string, paths []string) ([]string, error) {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || path == dir {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		more, err := config.Files(path)
		paths = append(paths, more...)
		return err
	})
	return paths, err
}

// writeFileAtomic replaces a file with data, keeping its mode: a crash
// leaves the old file or the new one, never half of it.
func writeFileAtomic(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".teal-fmt"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
