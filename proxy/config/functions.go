package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxFileSize bounds every file the configuration reads but plugin
// modules: configuration files, file() arguments, certificates, keys and CA
// bundles. Anything larger is a mistake. maxWasmSize bounds plugin modules,
// which compilers make large.
const (
	maxFileSize = 4 << 20
	maxWasmSize = 128 << 20
)

// evalContext is the context of every expression in a file whose relative
// paths resolve against baseDir: no variables, and the functions env and
// file.
func evalContext(baseDir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunction(),
			"file": fileFunction(baseDir),
		},
	}
}

// envFunction is env(name) and env(name, default): the value of an
// environment variable, an error if it is unset and there is no default.
func envFunction() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default if it is unset.",
		Params: []function.Parameter{
			{Name: "name", Type: cty.String},
		},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2,
					"env takes a variable name and at most one default value")
			}
			name := args[0].AsString()
			if v, ok := os.LookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf(
				"environment variable %q is not set; set it, or give a default as in env(%q, \"value\")",
				name, name)
		},
	})
}

// fileFunction is file(path): the contents of a UTF-8 text file, the path
// relative to baseDir.
func fileFunction(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a text file, its path relative to the configuration's directory.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := resolvePath(baseDir, args[0].AsString())
			b, err := readFile(path)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0,
					"%s is not UTF-8 text; file() only reads text files", path)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// resolvePath resolves a path written in the configuration against baseDir,
// the directory of the configuration file.
func resolvePath(baseDir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(baseDir, path)
}

// readFile reads a regular file of at most maxFileSize bytes. Its errors
// name the path.
func readFile(path string) ([]byte, error) {
	return readFileMax(path, maxFileSize)
}

// readFileMax reads a regular file of at most limit bytes. Its errors name
// the path.
func readFileMax(path string, limit int64) ([]byte, error) {
	if path == "" {
		return nil, errors.New("empty file name")
	}
	// Stat before opening: opening a FIFO would block.
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
