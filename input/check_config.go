// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
)

// CheckFile is a config file to check.
type CheckFile struct {
	// Name names the file in the report.
	Name string
	YAML []byte
}

// CheckReport is what CheckConfigs found.
type CheckReport struct {
	// Lints are the lint errors of the files, as duostream lint reports
	// them ("<file>: line <n>: <what>"); nothing is checked while there
	// are any.
	Lints []string
	// Inputs is how many duo_admin_logs inputs were checked.
	Inputs int
	// Rows are the checks of every input, in the order of the files and
	// of the inputs in each.
	Rows []CheckRow
}

// CheckConfigs checks every duo_admin_logs input of configs, and of
// resources, the resource files (-r) whose cache resources every config
// shares, as duostream streams uses them. Each input is checked the way
// duostream run would build it: its config with environment variables
// resolved by lookup (nil means the process environment) and validated by
// the input itself, one signed request per log type (of every selected
// child with accounts.discover), the clock skew measured from Duo's Date
// headers, and each stream's stored position, read from its
// checkpoint_cache with env's caches made read-only (cache.ReadOnly): the
// check writes no cache and creates no file. The files are linted first,
// as duostream lint does, and nothing more is done while any has a lint.
//
// Each input is built in a stream of its own, with the config's cache
// resources and a drop output: no other component of the config is built,
// so nothing but Duo and the checkpoint cache is ever contacted.
func CheckConfigs(ctx context.Context, env *service.Environment, configs, resources []CheckFile, lookup func(string) (string, bool), opts CheckOptions) (CheckReport, error) {
	var report CheckReport
	if lookup == nil {
		lookup = lookupProcessEnv
	}
	schema := env.FullConfigSchema("", "")
	linter := schema.NewStreamConfigLinter().SetEnvVarLookupFunc(func(_ context.Context, name string) (string, bool) { return lookup(name) })
	files := append(append([]CheckFile{}, resources...), configs...)
	for _, f := range files {
		lints, err := linter.LintYAML(f.YAML)
		if err != nil {
			return report, fmt.Errorf("%s: %w", f.Name, err)
		}
		for _, l := range lints {
			report.Lints = append(report.Lints, fmt.Sprintf("%s: line %d: %s", f.Name, l.Line, l.What))
		}
	}
	if len(report.Lints) > 0 {
		return report, nil
	}
	checkEnv, err := cache.ReadOnly(env)
	if err != nil {
		return report, err
	}

	// The cache resources of the resource files serve every config.
	var shared []*yaml.Node
	parsed := make([]*yaml.Node, len(files))
	for i, f := range files {
		if parsed[i], err = parseYAMLDoc(f.YAML); err != nil {
			return report, fmt.Errorf("%s: %w", f.Name, err)
		}
		if i < len(resources) {
			shared = append(shared, cacheResourceNodes(parsed[i])...)
		}
	}
	walker := schema.NewStreamConfigWalker()
	for i, f := range files {
		var found []*service.WalkedComponent
		err := walker.WalkComponentsYAML(f.YAML, func(w *service.WalkedComponent) error {
			if w.ComponentType == "input" && w.Name == "duo_admin_logs" {
				found = append(found, w)
			}
			return nil
		})
		if err != nil {
			return report, fmt.Errorf("%s: %w", f.Name, err)
		}
		caches := shared
		if i >= len(resources) {
			caches = append(cacheResourceNodes(parsed[i]), shared...)
		}
		for _, w := range found {
			name := w.Label
			if name == "" {
				name = w.Path
			}
			component := nodeAt(parsed[i], w.Path)
			if component == nil {
				return report, fmt.Errorf("%s: %s: the duo_admin_logs input is not where the config walker found it", f.Name, w.Path)
			}
			rows := checkComponent(ctx, checkEnv, component, caches, lookup, opts)
			for j := range rows {
				rows[j].File, rows[j].Input = f.Name, name
			}
			report.Rows = append(report.Rows, rows...)
			report.Inputs++
		}
	}
	return report, nil
}

// lookupProcessEnv is the default variable lookup of CheckConfigs.
var lookupProcessEnv = os.LookupEnv

// checkComponent checks the duo_admin_logs input whose component config is
// the node component, in a stream of its own with the cache resources
// caches: the stream's input is one whose constructor runs the check with
// the config as the stream parsed it, environment variables resolved, and
// the stream's resources.
func checkComponent(ctx context.Context, env *service.Environment, component *yaml.Node, caches []*yaml.Node, lookup func(string) (string, bool), opts CheckOptions) []CheckRow {
	configRow := func(err error) []CheckRow {
		return []CheckRow{{Account: "-", Check: CheckedConfig, Status: duoapi.SeverityFail, Detail: err.Error()}}
	}
	doc, err := checkStreamYAML(component, caches)
	if err != nil {
		return configRow(err)
	}
	var rows []CheckRow
	checked := false
	streamEnv := env.Clone()
	err = streamEnv.RegisterBatchInput("duo_admin_logs", duoAdminLogsSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
		checked = true
		rows = checkInput(ctx, conf, res, opts)
		return checkedInput{}, nil
	})
	if err != nil {
		return configRow(err)
	}
	b := streamEnv.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookup)
	b.SetLogger(slog.New(slog.DiscardHandler))
	if err := b.SetYAML(doc); err != nil {
		return configRow(err)
	}
	strm, err := b.Build()
	if err != nil {
		return configRow(err)
	}
	// The input ends as soon as it is built, and the stream with it,
	// closing its resources (and with them the cache's file).
	if err := strm.Run(ctx); err != nil && !checked {
		return configRow(err)
	}
	if !checked {
		return configRow(errors.New("the input was not built"))
	}
	return rows
}

// checkedInput is the input of a check's stream: it ends at once.
type checkedInput struct{}

func (checkedInput) Connect(context.Context) error { return nil }

func (checkedInput) ReadBatch(context.Context) (service.MessageBatch, service.AckFunc, error) {
	return nil, nil, service.ErrEndOfInput
}

func (checkedInput) Close(context.Context) error { return nil }

// checkStreamYAML writes the config of a check's stream: the input
// component (without its processors), the cache resources, a drop output
// and no metrics. The nodes are the files' own, before environment
// variables are resolved, so that the stream resolves them as duostream
// run would.
func checkStreamYAML(component *yaml.Node, caches []*yaml.Node) (string, error) {
	in := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(component.Content); i += 2 {
		if component.Content[i].Value == "processors" {
			continue
		}
		in.Content = append(in.Content, detachNode(component.Content[i]), detachNode(component.Content[i+1]))
	}
	cacheList := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, c := range caches {
		cacheList.Content = append(cacheList.Content, detachNode(c))
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(key string, value *yaml.Node) {
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
	}
	empty := func(key string) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
			{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle},
		}}
	}
	add("input", in)
	add("output", empty("drop"))
	add("metrics", empty("none"))
	if len(cacheList.Content) > 0 {
		add("cache_resources", cacheList)
	}
	b, err := yaml.Marshal(root)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// parseYAMLDoc parses a config file into its root node (nil for an empty
// file).
func parseYAMLDoc(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0], nil
	}
	return nil, nil
}

// cacheResourceNodes returns the entries of the cache_resources of root.
func cacheResourceNodes(root *yaml.Node) []*yaml.Node {
	list := mappingValue(root, "cache_resources")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	return list.Content
}

// mappingValue returns the value of key in the mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for m != nil && m.Kind == yaml.AliasNode {
		m = m.Alias
	}
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// nodeAt returns the node at the dot path of a walked component, such as
// "input.broker.inputs.1", or nil.
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	n := root
	for part := range strings.SplitSeq(path, ".") {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil
		}
		if n.Kind == yaml.SequenceNode {
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
			continue
		}
		n = mappingValue(n, part)
	}
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// detachNode copies n for a document of its own: aliases replaced by what
// they name, anchors and comments dropped.
func detachNode(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	c := *n
	c.Anchor, c.HeadComment, c.LineComment, c.FootComment = "", "", "", ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = detachNode(child)
	}
	return &c
}
