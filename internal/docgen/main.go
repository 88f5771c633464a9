// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Command docgen writes the Markdown reference of duostream's own Benthos
// components into docs/: a page per component at docs/<kind>s/<name>.md
// (docs/metrics/<name>.md for metrics exporters) and the index
// docs/README.md, all rendered from the components' config specs.
//
// Run it from the repository root after changing a component's spec:
//
//	go run ./internal/docgen
//
// or, equivalently, go generate ./internal/docgen. The test in this package
// fails while docs/ differs from what the specs generate.
//
// The binary imports only duostream's component packages and Benthos'
// public/service, which registers nothing, so every component it finds in
// the global environment is duostream's.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/duostream/duostream/cache"
	_ "github.com/duostream/duostream/input"
	_ "github.com/duostream/duostream/metrics"
	_ "github.com/duostream/duostream/output"
	_ "github.com/duostream/duostream/processor"
)

//go:generate go run . -out ../../docs

func main() {
	out := flag.String("out", "docs", "the docs folder to write into")
	flag.Parse()
	files, err := Generate(service.GlobalEnvironment())
	if err == nil {
		err = Write(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
	fmt.Printf("docgen: wrote %d files into %s\n", len(files), *out)
}

// managed reports whether rel (a slash path under the docs folder) is a file
// that docgen owns: the index and the .md files of the component folders.
func managed(rel string) bool {
	if rel == "README.md" {
		return true
	}
	dir, file, ok := strings.Cut(rel, "/")
	if !ok || strings.Contains(file, "/") || !strings.HasSuffix(file, ".md") {
		return false
	}
	return slices.ContainsFunc(kinds, func(k kindInfo) bool { return k.dir == dir })
}

// Write makes dir hold exactly files among the files docgen manages: it
// writes new and changed files and removes generated pages that no longer
// have a component. Other files in dir are left alone.
func Write(dir string, files map[string][]byte) error {
	have, err := readManaged(dir)
	if err != nil {
		return err
	}
	for rel := range have {
		if _, ok := files[rel]; !ok {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
				return err
			}
		}
	}
	for rel, body := range files {
		if bytes.Equal(have[rel], body) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readManaged returns the managed files under dir by slash path.
func readManaged(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !managed(rel) {
			return nil
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = body
		return nil
	})
	return files, err
}
