package config

import (
	"crypto/tls"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tlsListener is a configuration whose listener has a tls block with a
// valid certificate and the attributes attrs, one a line from line 6.
func tlsListener(attrs ...string) string {
	src := []string{
		`listener "l" {`,
		`  address = ":0"`,
		`  tls {`,
		`    cert_file = "cert.pem"`,
		`    key_file  = "key.pem"`,
	}
	for _, a := range attrs {
		src = append(src, "    "+a)
	}
	src = append(src, `  }`, `}`, okUpstream, okRoute)
	return lines(src...)
}

// tlsUpstream is a configuration whose upstream has a wss server and a tls
// block with the attributes attrs, one a line from line 5.
func tlsUpstream(attrs ...string) string {
	src := []string{
		okListener,
		`upstream "u" {`,
		`  servers = ["wss://127.0.0.1:9000"]`,
		`  tls {`,
	}
	for _, a := range attrs {
		src = append(src, "    "+a)
	}
	src = append(src, `  }`, `}`, okRoute)
	return lines(src...)
}

func TestParse_tls(t *testing.T) {
	pki := writeTestPKI(t)
	path := func(name string) string { return filepath.Join(pki, name) }
	tests := []struct {
		name string
		src  string
		// What the listener's or the upstream's tls.Config must hold.
		clientAuth   tls.ClientAuthType
		clientCAs    bool // ClientCAs or RootCAs set
		minVersion   uint16
		cipherSuites []uint16
		clientCert   bool // the upstream presents a certificate
		// The resolved files: ClientCAFile, or CAFile, CertFile and KeyFile.
		files tlsFiles
	}{
		{
			name:       "listener defaults: no client certificate, TLS 1.2, Go's suites",
			src:        tlsListener(),
			clientAuth: tls.NoClientCert,
			minVersion: tls.VersionTLS12,
			files:      tlsFiles{cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "client_ca_file requires a client certificate by default",
			src:        tlsListener(`client_ca_file = "ca.pem"`),
			clientAuth: tls.RequireAndVerifyClientCert,
			clientCAs:  true,
			minVersion: tls.VersionTLS12,
			files:      tlsFiles{ca: path("ca.pem"), cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "client_auth require",
			src:        tlsListener(`client_ca_file = "ca.pem"`, `client_auth = "require"`),
			clientAuth: tls.RequireAndVerifyClientCert,
			clientCAs:  true,
			minVersion: tls.VersionTLS12,
			files:      tlsFiles{ca: path("ca.pem"), cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "client_auth optional",
			src:        tlsListener(`client_ca_file = "ca.pem"`, `client_auth = "optional"`),
			clientAuth: tls.VerifyClientCertIfGiven,
			clientCAs:  true,
			minVersion: tls.VersionTLS12,
			files:      tlsFiles{ca: path("ca.pem"), cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "client_auth none without client_ca_file",
			src:        tlsListener(`client_auth = "none"`),
			clientAuth: tls.NoClientCert,
			minVersion: tls.VersionTLS12,
			files:      tlsFiles{cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "listener min_version 1.3",
			src:        tlsListener(`min_version = "1.3"`),
			clientAuth: tls.NoClientCert,
			minVersion: tls.VersionTLS13,
			files:      tlsFiles{cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "min_version written as a number",
			src:        tlsListener(`min_version = 1.3`),
			clientAuth: tls.NoClientCert,
			minVersion: tls.VersionTLS13,
			files:      tlsFiles{cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "listener cipher_suites, in the order written",
			src:        tlsListener(`cipher_suites = ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]`),
			clientAuth: tls.NoClientCert,
			minVersion: tls.VersionTLS12,
			cipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			files: tlsFiles{cert: path("cert.pem"), key: path("key.pem")},
		},
		{
			name:       "upstream defaults: no client certificate, TLS 1.2, Go's suites",
			src:        tlsUpstream(`ca_file = "ca.pem"`),
			clientCAs:  true,
			minVersion: tls.VersionTLS12,
			files:      tlsFiles{ca: path("ca.pem")},
		},
		{
			name:       "upstream client certificate",
			src:        tlsUpstream(`cert_file = "client.pem"`, `key_file  = "client-key.pem"`),
			minVersion: tls.VersionTLS12,
			clientCert: true,
			files:      tlsFiles{cert: path("client.pem"), key: path("client-key.pem")},
		},
		{
			name:         "upstream min_version and cipher_suites",
			src:          tlsUpstream(`min_version = "1.2"`, `cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]`),
			minVersion:   tls.VersionTLS12,
			cipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		},
		{
			name:       "upstream min_version 1.3",
			src:        tlsUpstream(`min_version = "1.3"`),
			minVersion: tls.VersionTLS13,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := mustParse(t, tt.src, pki)
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics: %s", diags.Error())
			}
			var (
				c     *tls.Config
				files tlsFiles
			)
			if strings.HasPrefix(tt.name, "upstream") {
				up := cfg.Upstreams[0]
				c, files = up.TLS, tlsFiles{ca: up.CAFile, cert: up.CertFile, key: up.KeyFile}
				if (c.RootCAs != nil) != tt.clientCAs {
					t.Errorf("RootCAs set: %v, want %v", c.RootCAs != nil, tt.clientCAs)
				}
				if got := len(c.Certificates) == 1; got != tt.clientCert {
					t.Errorf("%d client certificates, want one: %v", len(c.Certificates), tt.clientCert)
				}
			} else {
				lis := cfg.Listeners[0]
				c, files = lis.TLS, tlsFiles{ca: lis.ClientCAFile, cert: lis.CertFile, key: lis.KeyFile}
				if c.ClientAuth != tt.clientAuth {
					t.Errorf("ClientAuth = %v, want %v", c.ClientAuth, tt.clientAuth)
				}
				if (c.ClientCAs != nil) != tt.clientCAs {
					t.Errorf("ClientCAs set: %v, want %v", c.ClientCAs != nil, tt.clientCAs)
				}
				if len(c.Certificates) != 1 {
					t.Errorf("%d certificates, want 1", len(c.Certificates))
				}
			}
			if c.MinVersion != tt.minVersion {
				t.Errorf("MinVersion = %#x, want %#x", c.MinVersion, tt.minVersion)
			}
			if !reflect.DeepEqual(c.CipherSuites, tt.cipherSuites) {
				t.Errorf("CipherSuites = %v, want %v", cipherSuiteNames(c.CipherSuites), cipherSuiteNames(tt.cipherSuites))
			}
			if !reflect.DeepEqual(c.NextProtos, []string{"http/1.1"}) {
				t.Errorf("NextProtos = %q, want http/1.1", c.NextProtos)
			}
			if files != tt.files {
				t.Errorf("files = %+v, want %+v", files, tt.files)
			}
		})
	}
}

func TestParse_tlsDiagnostics(t *testing.T) {
	pki := writeTestPKI(t)
	tests := []struct {
		name string
		src  string
		want []wantDiag
	}{
		// Listeners: client certificates.
		{
			name: "client_auth require without client_ca_file",
			src:  tlsListener(`client_auth = "require"`),
			want: []wantDiag{{summary: "Missing client_ca_file", at: "6:19",
				detail: []string{`client_auth = "require" verifies client certificates, which needs client_ca_file`}}},
		},
		{
			name: "client_auth optional without client_ca_file",
			src:  tlsListener(`client_auth = "optional"`),
			want: []wantDiag{{summary: "Missing client_ca_file", at: "6:19",
				detail: []string{`client_auth = "optional"`, `set client_auth = "none"`}}},
		},
		{
			name: "unknown client_auth",
			src:  tlsListener(`client_ca_file = "ca.pem"`, `client_auth = "always"`),
			want: []wantDiag{{summary: "Invalid client_auth", at: "7:19",
				detail: []string{`"always" is not a client_auth mode`, `"require"`, `"optional"`, `"none"`}}},
		},
		{
			name: "client_auth none with client_ca_file warns",
			src:  tlsListener(`client_ca_file = "ca.pem"`, `client_auth = "none"`),
			want: []wantDiag{{warning: true, summary: "client_ca_file unused", at: "7:19",
				detail: []string{"never used"}}},
		},
		{
			name: "unreadable client_ca_file",
			src:  tlsListener(`client_ca_file = "missing-ca.pem"`),
			want: []wantDiag{{summary: "Cannot read client CA file", at: "6:22",
				detail: []string{"missing-ca.pem", "client_ca_file names a PEM file"}}},
		},
		{
			name: "client_ca_file without certificates",
			src:  tlsListener(`client_ca_file = "garbage.pem"`, `client_auth = "optional"`),
			want: []wantDiag{{summary: "Invalid client CA file", at: "6:22",
				detail: []string{"holds no PEM certificate that can be parsed"}}},
		},
		{
			name: "typo in a listener's tls block lists the allowed arguments",
			src:  tlsListener(`client_ca_files = "ca.pem"`),
			want: []wantDiag{{summary: "Unsupported argument", at: "6:5",
				detail: []string{`Did you mean "client_ca_file"?`,
					"In the tls block of a listener, the allowed arguments are cert_file, cipher_suites, client_auth, client_ca_file, key_file, min_version."}}},
		},

		// min_version, in either block.
		{
			name: "min_version 1.1 is too old",
			src:  tlsListener(`min_version = "1.1"`),
			want: []wantDiag{{summary: "TLS version too old", at: "6:19",
				detail: []string{`min_version = "1.1" is refused`, "RFC 8996", `"1.2" (the default) or "1.3"`}}},
		},
		{
			name: "min_version 1.0 as a number is too old",
			src:  tlsUpstream(`min_version = 1.0`),
			want: []wantDiag{{summary: "TLS version too old", at: "5:19",
				detail: []string{`min_version = "1" is refused`}}},
		},
		{
			name: "min_version that is not a version",
			src:  tlsUpstream(`min_version = "TLS1.2"`),
			want: []wantDiag{{summary: "Invalid min_version", at: "5:19",
				detail: []string{`"TLS1.2" is not a TLS version`, `min_version is "1.2" (the default) or "1.3"`}}},
		},

		// cipher_suites, in either block.
		{
			name: "unknown cipher suite lists the allowed names",
			src:  tlsListener(`cipher_suites = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_FAST"]`),
			want: []wantDiag{{summary: "Unknown cipher suite", at: "6:65",
				detail: []string{`"TLS_FAST" is not the name of a cipher suite.`,
					"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, ", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256."}}},
		},
		{
			name: "cipher suite in the wrong case",
			src:  tlsUpstream(`cipher_suites = ["tls_ecdhe_rsa_with_aes_128_gcm_sha256"]`),
			want: []wantDiag{{summary: "Unknown cipher suite", at: "5:22",
				detail: []string{`Did you mean "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"?`}}},
		},
		{
			name: "insecure cipher suites are refused, each with its reason",
			src: tlsUpstream(`cipher_suites = [`,
				`  "TLS_ECDHE_RSA_WITH_RC4_128_SHA",`,
				`  "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",`,
				`  "TLS_RSA_WITH_AES_128_GCM_SHA256",`,
				`  "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",`,
				`]`),
			want: []wantDiag{
				{summary: "Insecure cipher suite", at: "6:7", detail: []string{"RC4 is broken", "tls.InsecureCipherSuites"}},
				{summary: "Insecure cipher suite", at: "7:7", detail: []string{"Sweet32"}},
				{summary: "Insecure cipher suite", at: "8:7", detail: []string{"no forward secrecy"}},
				{summary: "Insecure cipher suite", at: "9:7", detail: []string{"Lucky13"}},
			},
		},
		{
			name: "TLS 1.3 cipher suite",
			src:  tlsListener(`cipher_suites = ["TLS_AES_128_GCM_SHA256"]`),
			want: []wantDiag{{summary: "TLS 1.3 cipher suite", at: "6:22",
				detail: []string{"Go enables every TLS 1.3 suite", "applies to TLS 1.2 only"}}},
		},
		{
			name: "empty cipher_suites",
			src:  tlsListener(`cipher_suites = []`),
			want: []wantDiag{{summary: "Empty cipher_suites", at: "6:21",
				detail: []string{"Remove it to use Go's defaults"}}},
		},
		{
			name: "cipher_suites that is not a list",
			src:  tlsListener(`cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"`),
			want: []wantDiag{{summary: "Unsuitable value type", at: "6:22",
				detail: []string{`The value of cipher_suites must be a list of cipher suite names`}}},
		},
		{
			name: "duplicate cipher suite warns",
			src:  tlsUpstream(`cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]`),
			want: []wantDiag{{warning: true, summary: "Duplicate cipher suite", at: "5:63",
				detail: []string{"already listed"}}},
		},
		{
			name: "cipher_suites with min_version 1.3 warns",
			src:  tlsListener(`min_version   = "1.3"`, `cipher_suites = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]`),
			want: []wantDiag{{warning: true, summary: "cipher_suites unused", at: "7:21",
				detail: []string{"has no effect"}}},
		},
		{
			name: "no cipher suite fits the certificate's key",
			src:  tlsListener(`cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]`),
			want: []wantDiag{{warning: true, summary: "No cipher suite fits the certificate", at: "6:21",
				detail: []string{"an ECDSA key", "TLS_ECDHE_ECDSA_*", "TLS 1.2 clients cannot connect"}}},
		},

		// Upstreams: client certificates.
		{
			name: "upstream cert_file without key_file",
			src:  tlsUpstream(`cert_file = "client.pem"`),
			want: []wantDiag{{summary: "Missing key_file", at: "4:3",
				detail: []string{"This tls block has no key_file", "Set both, or neither"}}},
		},
		{
			name: "upstream key_file without cert_file",
			src:  tlsUpstream(`key_file = "client-key.pem"`),
			want: []wantDiag{{summary: "Missing cert_file", at: "4:3",
				detail: []string{"This tls block has no cert_file", "client certificate that wasmgate presents"}}},
		},
		{
			name: "upstream key that does not match the client certificate",
			src:  tlsUpstream(`cert_file = "client.pem"`, `key_file  = "key.pem"`),
			want: []wantDiag{{summary: "Invalid private key", at: "6:17",
				detail: []string{"no private key that matches the certificate"}}},
		},
		{
			name: "upstream unreadable client certificate",
			src:  tlsUpstream(`cert_file = "missing.pem"`, `key_file  = "client-key.pem"`),
			want: []wantDiag{{summary: "Cannot read certificate", at: "5:17",
				detail: []string{"missing.pem", "cert_file names a PEM file with the client certificate"}}},
		},
		{
			name: "upstream certificate not issued for clients warns",
			src:  tlsUpstream(`cert_file = "cert.pem"`, `key_file  = "key.pem"`),
			want: []wantDiag{{warning: true, summary: "Not a client certificate", at: "5:17",
				detail: []string{"lacks clientAuth", `upstream "u"`}}},
		},
		{
			name: "upstream expired client certificate warns",
			src:  tlsUpstream(`cert_file = "expired.pem"`, `key_file  = "key.pem"`),
			want: []wantDiag{
				{warning: true, summary: "Certificate expired", at: "5:17", detail: []string{"expired on"}},
				{warning: true, summary: "Not a client certificate", at: "5:17"},
			},
		},
		{
			name: "typo in an upstream's tls block lists the allowed arguments",
			src:  tlsUpstream(`cert = "client.pem"`),
			want: []wantDiag{{summary: "Unsupported argument", at: "5:5",
				detail: []string{"In the tls block of an upstream, the allowed arguments are ca_file, cert_file, cipher_suites, insecure_skip_verify, key_file, min_version, server_name."}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse([]byte(tt.src), "test.hcl", pki)
			checkDiags(t, diags, tt.want)
		})
	}
}
