package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// FuncFactory makes a function for one configuration. c is the
// configuration being loaded (its fields are filled as loading goes on, so
// a function should read them when called, not when made) and dir is the
// directory of the file whose expressions the function serves.
type FuncFactory func(c *Config, dir string) function.Function

var registry = struct {
	sync.RWMutex
	m map[string]FuncFactory
}{m: map[string]FuncFactory{}}

// Register adds a function to every function table built afterwards, under
// name. Other packages call it from init, e.g. to add iso_country or unit,
// so that the function is known before any configuration is parsed (a
// Config builds its tables once, when first needed).
// It panics when name is not an identifier or is already taken by a
// built-in or registered function.
func Register(name string, f FuncFactory) {
	if !hclsyntax.ValidIdentifier(name) || f == nil {
		panic(fmt.Sprintf("config.Register: invalid function %q", name))
	}
	if _, ok := builtins("")[name]; ok {
		panic(fmt.Sprintf("config.Register: %q is a built-in function", name))
	}
	registry.Lock()
	defer registry.Unlock()
	if _, ok := registry.m[name]; ok {
		panic(fmt.Sprintf("config.Register: function %q registered twice", name))
	}
	registry.m[name] = f
}

// Functions returns the function table of expressions in files of
// directory dir: env, file (relative to dir), try, can, the go-cty standard
// library under Terraform's names, and the registered functions. The table
// is cached per directory and shared: do not modify it.
func (c *Config) Functions(dir string) map[string]function.Function {
	c.mu.Lock()
	fns, ok := c.funcs[dir]
	c.mu.Unlock()
	if ok {
		return fns
	}
	// Factories run without the lock held: they may use c.
	fns = builtins(dir)
	registry.RLock()
	factories := maps.Clone(registry.m)
	registry.RUnlock()
	for name, f := range factories {
		fns[name] = f(c, dir)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.funcs[dir]; ok {
		return prev
	}
	if c.funcs == nil {
		c.funcs = make(map[string]map[string]function.Function)
	}
	c.funcs[dir] = fns
	return fns
}

// Functions returns a function table for expressions outside any
// configuration (registered factories get an empty Config).
func Functions(dir string) map[string]function.Function {
	return maps.Clone((&Config{}).Functions(dir))
}

// EvalContext returns an evaluation context with the function table of dir
// (a Pipeline's or Connection's Dir) and the given variables, e.g. record
// and lookup for a pipeline's expressions.
func (c *Config) EvalContext(dir string, vars map[string]cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: vars, Functions: c.Functions(dir)}
}

func builtins(dir string) map[string]function.Function {
	return map[string]function.Function{
		"env":  envFunc,
		"file": makeFileFunc(dir),
		"try":  tryfunc.TryFunc,
		"can":  tryfunc.CanFunc,

		// numbers
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,

		// strings
		"chomp":         stdlib.ChompFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"indent":        stdlib.IndentFunc,
		"join":          stdlib.JoinFunc,
		"lower":         stdlib.LowerFunc,
		"regex":         stdlib.RegexFunc,
		"regexall":      stdlib.RegexAllFunc,
		"regex_replace": stdlib.RegexReplaceFunc,
		"replace":       stdlib.ReplaceFunc,
		"split":         stdlib.SplitFunc,
		"strlen":        stdlib.StrlenFunc,
		"strrev":        stdlib.ReverseFunc,
		"substr":        stdlib.SubstrFunc,
		"title":         stdlib.TitleFunc,
		"trim":          stdlib.TrimFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"upper":         stdlib.UpperFunc,

		// collections
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"index":           stdlib.IndexFunc,
		"keys":            stdlib.KeysFunc,
		"length":          lengthFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// encoding, dates, types
		"csvdecode":  stdlib.CSVDecodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"tostring":   stdlib.MakeToFunc(cty.String),
		"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	}
}

// envFunc returns an environment variable, failing when it is not set.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable; fails when it is not set.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		name := args[0].AsString()
		v, ok := os.LookupEnv(name)
		if !ok {
			return cty.NilVal, function.NewArgErrorf(0, "environment variable %s is not set", name)
		}
		return cty.StringVal(v), nil
	},
})

// makeFileFunc returns file(path): the UTF-8 content of path, relative to
// dir when not absolute.
func makeFileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file, relative to the configuration file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(full)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file %s: %s", full, err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "file %s is not valid UTF-8", full)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// lengthFunc is Terraform's length: the length of a string, or the number
// of elements of a collection.
var lengthFunc = function.New(&function.Spec{
	Description: "Returns the length of a string or the number of elements of a collection.",
	Params: []function.Parameter{{
		Name:             "value",
		Type:             cty.DynamicPseudoType,
		AllowDynamicType: true,
		AllowUnknown:     true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		switch {
		case ty == cty.String, ty == cty.DynamicPseudoType,
			ty.IsListType(), ty.IsMapType(), ty.IsSetType(), ty.IsTupleType(), ty.IsObjectType():
			return cty.Number, nil
		}
		return cty.NilType, function.NewArgErrorf(0, "argument must be a string, a collection or a structure")
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		if v.IsNull() {
			return cty.NilVal, function.NewArgErrorf(0, "argument must not be null")
		}
		if v.Type() == cty.String {
			return stdlib.Strlen(v)
		}
		if v.Type().IsObjectType() {
			return cty.NumberIntVal(int64(len(v.Type().AttributeTypes()))), nil
		}
		return v.Length(), nil
	},
})
