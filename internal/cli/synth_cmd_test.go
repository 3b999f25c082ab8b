package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func synthRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &App{Stdout: &out, Stderr: &out}
	root := &cobra.Command{Use: "partnerlink", SilenceUsage: true, SilenceErrors: true}
	addSynthCommand(app, Parents{Root: root})
	root.SetArgs(append([]string{"synth"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestSynthCommandIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		out, err := synthRun(t, "--seed", "4", "--scale", "tiny", "--out", dir)
		if err != nil || !strings.Contains(out, "600 usage rows") {
			t.Fatalf("%v: %s", err, out)
		}
	}
	for _, f := range []string{"estate.json", "usage.csv"} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s differs between two runs with seed 4 (%v %v)", f, err1, err2)
		}
	}
	if _, err := synthRun(t, "--scale", "enormous", "--out", a); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("unknown scale: %v", err)
	}
}
