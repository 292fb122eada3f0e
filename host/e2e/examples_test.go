package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExamplesValidate checks the default pipeline and every example
// against the shipped connectors' schemas.
func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "pipeline.hcl"))
	files = append(files, filepath.Join("..", "..", "pipeline.hcl"))
	if len(files) < 4 {
		t.Fatalf("found %d pipeline files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorkspace(t)
			w.write("pipeline.hcl", string(src))
			w.write("ns-key.pem", "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
			for k, v := range map[string]string{
				"WEIR_API_TOKEN": "api-token-for-validate", "SF_LOGIN_URL": "https://login.salesforce.com",
				"SF_CLIENT_ID": "id", "SF_CLIENT_SECRET": "secret-1", "NS_ACCOUNT_ID": "123456_SB1",
				"NS_CLIENT_ID": "id", "NS_CERT_ID": "cert", "NS_KEY_FILE": "ns-key.pem",
				"NS_TOKEN_URL": "https://123456-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
				"SAP_BASE_URL": "https://my300000-api.s4hana.ondemand.com", "SAP_USER": "WEIR", "SAP_PASSWORD": "password-1",
			} {
				w.setenv(k, v)
			}
			w.lock()
			if out, errOut, code := w.weir("validate", "-plugin-dir", binDir); code != 0 {
				t.Fatalf("%s: exit %d\n%s%s", f, code, out, errOut)
			}
		})
	}
}
