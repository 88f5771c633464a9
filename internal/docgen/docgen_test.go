// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsUpToDate regenerates the docs into a temporary folder and fails
// when the committed docs/ differs.
func TestDocsUpToDate(t *testing.T) {
	files, err := Generate(service.GlobalEnvironment())
	require.NoError(t, err)
	tmp := t.TempDir()
	require.NoError(t, Write(tmp, files))
	want, err := readManaged(tmp)
	require.NoError(t, err)
	have, err := readManaged(filepath.Join("..", "..", "docs"))
	require.NoError(t, err)

	var problems []string
	for rel, body := range want {
		got, ok := have[rel]
		switch {
		case !ok:
			problems = append(problems, "docs/"+rel+" is missing")
		case string(got) != string(body):
			problems = append(problems, "docs/"+rel+" differs: "+firstDifference(string(got), string(body)))
		}
	}
	for rel := range have {
		if _, ok := want[rel]; !ok {
			problems = append(problems, "docs/"+rel+" documents no registered component")
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		t.Fatalf("docs/ is out of date with the component config specs:\n  %s\n\nRegenerate it from the repository root with\n\n\tgo run ./internal/docgen\n\n(or go generate ./internal/docgen) and commit docs/.", strings.Join(problems, "\n  "))
	}
}

// firstDifference describes the first line where got and want differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d is %q, the spec gives %q", i+1, gl, wl)
		}
	}
	return "they differ"
}

// sections splits a page into its "### `path`" field sections.
func sections(page string) map[string]string {
	out := map[string]string{}
	parts := strings.Split(page, "\n### `")
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "`\n")
		if end := strings.Index(body, "\n## "); end >= 0 {
			body = body[:end]
		}
		out[name] = body
	}
	return out
}

// TestGeneratedPagesCoverSpecs checks every duostream component's page
// against its spec: every field has a section with its type, its default or
// required/optional marker, its secret and advanced markers and its
// examples; the spec's examples are there; no secret default shows.
func TestGeneratedPagesCoverSpecs(t *testing.T) {
	env := service.GlobalEnvironment()
	files, err := Generate(env)
	require.NoError(t, err)
	require.Contains(t, files, "README.md")

	checked := 0
	for _, k := range kinds {
		k.walker(env, func(name string, view *service.ConfigView) {
			rel := k.dir + "/" + name + ".md"
			page, ok := files[rel]
			require.True(t, ok, "no page %s", rel)
			assert.Contains(t, string(files["README.md"]), "]("+rel+")", "the index links %s", rel)
			checkPage(t, rel, string(page), view)
			checked++
		})
	}
	// The caches and the metrics exporter of this change at least.
	assert.GreaterOrEqual(t, checked, 3)
	for _, want := range []string{"caches/bbolt.md", "caches/redis.md", "metrics/prometheus.md"} {
		assert.Contains(t, files, want)
	}
}

func checkPage(t *testing.T, rel, page string, view *service.ConfigView) {
	t.Helper()
	raw, err := view.FormatJSON()
	require.NoError(t, err)
	var spec componentSpec
	require.NoError(t, json.Unmarshal(raw, &spec))

	assert.True(t, strings.HasPrefix(page, header), "%s: generated header", rel)
	assert.Contains(t, page, strings.TrimSpace(spec.Summary), "%s: summary", rel)
	td, err := view.TemplateData()
	require.NoError(t, err)
	common, advanced := skeleton(td.CommonConfigYAML), skeleton(td.AdvancedConfigYAML)
	assert.Contains(t, page, "## Config\n\nCommon fields, with their default values:\n\n```yaml\n"+common+"\n```\n", rel)
	assert.Contains(t, page, "All fields, advanced ones included:\n\n```yaml\n"+advanced+"\n```\n", rel)
	assert.NotContains(t, page, "SECRET_SCRUBBED", rel)
	for _, c := range spec.Config.Children {
		if c.IsDeprecated {
			continue
		}
		// Caches, processors, rate limits and scanners sit at the root of
		// their skeleton, the other kinds one level down.
		line := "\n    " + c.Name + ":"
		if slices.Contains([]string{"cache", "processor", "rate_limit", "scanner"}, spec.Type) {
			line = "\n  " + c.Name + ":"
		}
		assert.Contains(t, advanced, line, "%s: field %s in the full config", rel, c.Name)
		assert.Equal(t, !c.IsAdvanced, strings.Contains(common, line), "%s: field %s in the common config iff not advanced", rel, c.Name)
	}
	for _, e := range spec.Examples {
		assert.Contains(t, page, "### "+strings.TrimSpace(e.Title)+"\n", "%s: example title", rel)
		assert.Contains(t, page, strings.TrimSpace(e.Config), "%s: example config", rel)
	}

	secs := sections(page)
	var walk func(prefix string, f fieldSpec)
	walk = func(prefix string, f fieldSpec) {
		for _, c := range f.Children {
			if c.IsDeprecated {
				continue
			}
			full := prefix + c.Name
			sec, ok := secs[full]
			if !assert.True(t, ok, "%s: no section for field %s", rel, full) {
				continue
			}
			assert.Contains(t, sec, "- **Type:** `", "%s %s", rel, full)
			assert.Equal(t, c.IsAdvanced, strings.Contains(sec, "- **Advanced:**"), "%s %s: advanced marker", rel, full)
			assert.Equal(t, c.IsSecret, strings.Contains(sec, "- **Secret:**"), "%s %s: secret marker", rel, full)
			switch {
			case len(c.Default) > 0:
				assert.Contains(t, sec, "- **Default:** ", "%s %s", rel, full)
			case c.IsOptional:
				assert.Contains(t, sec, "- **Optional:** ", "%s %s", rel, full)
			case len(c.Children) == 0:
				assert.Contains(t, sec, "- **Required:** ", "%s %s", rel, full)
			}
			if len(c.Examples) > 0 {
				assert.Contains(t, sec, "Examples:\n\n```yaml\n"+c.Name+":", "%s %s: examples", rel, full)
			}
			if c.IsSecret && len(c.Default) > 0 {
				var v any
				require.NoError(t, json.Unmarshal(c.Default, &v))
				if s, ok := v.(string); ok && s != "" && !envReference.MatchString(s) {
					assert.NotContains(t, page, s, "%s %s: secret default shown", rel, full)
				}
			}
			next := full
			switch c.Kind {
			case "array":
				next += "[]"
			case "map":
				next += ".<name>"
			}
			walk(next+".", c)
		}
	}
	walk("", spec.Config)
}

// registerSecretive registers a cache in env whose secret fields have
// defaults, one a literal and one an environment reference.
func registerSecretive(t *testing.T, env *service.Environment) {
	t.Helper()
	spec := service.NewConfigSpec().
		Summary("A cache with secret defaults.").
		Fields(
			service.NewStringField("token").Secret().Default("hunter2-literal-default"),
			service.NewStringField("env_token").Secret().Default("${SECRETIVE_TOKEN}"),
			service.NewObjectField("auth",
				service.NewStringField("password").Secret().Default("nested-literal-default").Advanced(),
			),
			service.NewStringListField("keys").Secret().Default([]any{"listed-literal-default"}).Advanced(),
		)
	require.NoError(t, env.RegisterCache("secretive", spec, func(*service.ParsedConfig, *service.Resources) (service.Cache, error) {
		return nil, fmt.Errorf("not for use")
	}))
}

func TestGenerateHidesSecretDefaults(t *testing.T) {
	// WalkMetrics and WalkTracers always walk the global registry, so tests
	// add components to a clone of the global environment.
	env := service.GlobalEnvironment().Clone()
	registerSecretive(t, env)
	files, err := Generate(env)
	require.NoError(t, err)
	page := string(files["caches/secretive.md"])
	require.NotEmpty(t, page)
	for _, secret := range []string{"hunter2-literal-default", "nested-literal-default", "listed-literal-default"} {
		assert.NotContains(t, page, secret)
	}
	secs := sections(page)
	assert.Contains(t, secs["token"], "- **Default:** set, but hidden because the field is secret")
	assert.Contains(t, secs["auth.password"], "- **Default:** set, but hidden because the field is secret")
	assert.Contains(t, secs["env_token"], "- **Default:** `\"${SECRETIVE_TOKEN}\"`", "an environment reference is no secret")
}

func TestGenerateRefusesCoreComponents(t *testing.T) {
	env := service.GlobalEnvironment().Clone()
	require.NoError(t, env.RegisterCache("memory", service.NewConfigSpec(), func(*service.ParsedConfig, *service.Resources) (service.Cache, error) {
		return nil, fmt.Errorf("not for use")
	}))
	_, err := Generate(env)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `cache "memory" is a Benthos core component`)
}

func TestWriteKeepsOnlyGeneratedPages(t *testing.T) {
	dir := t.TempDir()
	for rel, body := range map[string]string{
		"caches/gone.md":   "a page of a removed component",
		"caches/notes.txt": "not a page",
		"guides/setup.md":  "hand-written",
		"README.md":        "old index",
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	files := map[string][]byte{"README.md": []byte("new index"), "caches/bbolt.md": []byte("page")}
	require.NoError(t, Write(dir, files))

	got, err := readManaged(dir)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"README.md": []byte("new index"), "caches/bbolt.md": []byte("page")}, got)
	for _, kept := range []string{"caches/notes.txt", "guides/setup.md"} {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(kept)))
		assert.NoError(t, err, "%s must be left alone", kept)
	}

	// Writing the same files again changes nothing, not even mtimes.
	info, err := os.Stat(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, Write(dir, files))
	again, err := os.Stat(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	assert.Equal(t, info.ModTime(), again.ModTime())
}
