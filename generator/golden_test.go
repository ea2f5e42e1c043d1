package generator_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/generator"
)

var update = flag.Bool("update", false, "rebuild testdata/*/descriptor.binpb with buf and rewrite the golden files")

// A golden case is a directory of testdata holding .proto files (those at
// its top level are generated, subdirectories hold imports), params.txt
// (the plugin parameter), descriptor.binpb (the files compiled by buf, with
// source info so that comments are carried over) and want/, the expected
// output. The compiler version in the request is fixed, so the goldens do
// not depend on the installed protoc.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if *update {
				buildDescriptorSet(t, dir)
			}
			resp := runGenerator(t, request(t, dir))
			if resp.GetError() != "" {
				t.Fatalf("generator error: %s", resp.GetError())
			}
			want := filepath.Join(dir, "want")
			if *update {
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]bool{}
			for _, f := range resp.GetFile() {
				got[f.GetName()] = true
				path := filepath.Join(want, filepath.FromSlash(f.GetName())+".golden")
				if *update {
					writeFile(t, path, []byte(f.GetContent()))
					continue
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("unexpected output file %s: %v", f.GetName(), err)
					continue
				}
				if string(b) != f.GetContent() {
					t.Errorf("%s differs from %s (run go test ./generator -update and review the diff):\n%s", f.GetName(), path, diff(string(b), f.GetContent()))
				}
			}
			// Every golden file must still be produced.
			filepath.WalkDir(want, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(want, path)
				name := filepath.ToSlash(strings.TrimSuffix(rel, ".golden"))
				if !got[name] {
					t.Errorf("golden file %s is no longer generated", path)
				}
				return nil
			})
		})
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, want string }{
		{"package_suffix=not-an-identifier", `package_suffix "not-an-identifier" is not a valid Go identifier`},
		{"no_such_option=1", `unknown parameter "no_such_option"`},
		{"standalone=maybe", `standalone="maybe": want true or false`},
	} {
		req := request(t, "testdata/suffix")
		req.Parameter = proto.String(tc.param)
		resp := runGenerator(t, req)
		if !strings.Contains(resp.GetError(), tc.want) {
			t.Errorf("parameter %q: error %q, want it to contain %q", tc.param, resp.GetError(), tc.want)
		}
		if len(resp.GetFile()) != 0 {
			t.Errorf("parameter %q: %d files generated despite the error", tc.param, len(resp.GetFile()))
		}
	}
}

// request builds the CodeGeneratorRequest protoc would send for dir.
func request(t *testing.T, dir string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "descriptor.binpb"))
	if err != nil {
		t.Fatalf("%v (run go test ./generator -update to build it)", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		t.Fatal(err)
	}
	params, err := os.ReadFile(filepath.Join(dir, "params.txt"))
	if err != nil {
		t.Fatal(err)
	}
	req := &pluginpb.CodeGeneratorRequest{
		Parameter:       proto.String(strings.TrimSpace(string(params))),
		ProtoFile:       set.GetFile(),
		CompilerVersion: &pluginpb.Version{Major: proto.Int32(3), Minor: proto.Int32(21), Patch: proto.Int32(12)},
	}
	top, _ := filepath.Glob(filepath.Join(dir, "*.proto"))
	for _, f := range top {
		req.FileToGenerate = append(req.FileToGenerate, filepath.Base(f))
	}
	return req
}

// runGenerator runs the plugin in-process, as main does.
func runGenerator(t *testing.T, req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	var opts generator.Options
	gen, err := protogen.Options{ParamFunc: opts.Set}.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	if err := generator.Generate(gen, opts); err != nil {
		gen.Error(err)
	}
	return gen.Response()
}

// buildDescriptorSet compiles dir's protos with buf, keeping source info.
func buildDescriptorSet(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("buf", "build", dir, "--as-file-descriptor-set", "-o", filepath.Join(dir, "descriptor.binpb")).CombinedOutput()
	if err != nil {
		t.Fatalf("buf build %s: %v\n%s", dir, err, out)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// diff shows the first differing line of two texts, with context.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(equal lines; trailing difference)"
}
