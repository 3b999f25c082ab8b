package attribution

import (
	"os"
	"regexp"
	"testing"
)

// Every reason explain can give has a fix in words.
func TestEveryReasonHasAFix(t *testing.T) {
	var src []byte
	for _, f := range []string{"explain.go", "explain2.go", "explain_resource.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	codes := regexp.MustCompile(`(Reason[A-Za-z]+)\s+= "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(codes) < 10 {
		t.Fatalf("found %d reason codes in explain.go", len(codes))
	}
	for _, c := range codes {
		if Fix(c[2]) == "" {
			t.Errorf("reason %s (%s) has no fix in fixes.go", c[1], c[2])
		}
	}
}
