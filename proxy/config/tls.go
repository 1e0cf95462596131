package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// tlsFiles are the resolved paths of a tls block's files, for the
// effective configuration: ca is a listener's client_ca_file or an
// upstream's ca_file.
type tlsFiles struct {
	ca, cert, key string
}

// serverTLS checks the tls block of a listener and loads its certificate
// and its client CAs. It returns nil after reporting a problem with the
// certificate.
func (l *loader) serverTLS(b *listenerTLSBody, baseDir string) (*tls.Config, tlsFiles) {
	const (
		certAllowed = "cert_file names a PEM file with the listener's certificate, " +
			"followed by any intermediate certificates; a relative path is relative " +
			"to the configuration's directory."
		keyAllowed = "key_file names a PEM file with the private key of the " +
			"certificate (PKCS #1, PKCS #8 or SEC 1 EC); a relative path is " +
			"relative to the configuration's directory."
	)
	var files tlsFiles
	certPath := l.requiredPath(b.CertFile, b.CertFileRange, b.DefRange, "cert_file", certAllowed, baseDir)
	keyPath := l.requiredPath(b.KeyFile, b.KeyFileRange, b.DefRange, "key_file", keyAllowed, baseDir)
	cfg := &tls.Config{
		MinVersion: l.minVersion(b.MinVersion, b.MinVersionRange),
		NextProtos: []string{"http/1.1"},
	}
	cfg.CipherSuites = l.cipherSuites(b.CipherSuites, b.CipherSuitesRange, b.Body, cfg.MinVersion)
	cfg.ClientAuth, cfg.ClientCAs, files.ca = l.clientAuth(b, baseDir)

	if certPath == "" || keyPath == "" {
		return nil, files
	}
	cert, leaf, ok := l.keyPair(certPath, keyPath, b.CertFileRange, b.KeyFileRange, certAllowed, keyAllowed)
	if !ok {
		return nil, files
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		l.warnf(b.CertFileRange, "Certificate expired",
			"The certificate in %s expired on %s: clients will refuse it. Renew it.",
			certPath, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if cfg.MinVersion == tls.VersionTLS12 {
		l.checkSuitesFitKey(cfg.CipherSuites, leaf, certPath, b.CipherSuitesRange)
	}
	cfg.Certificates = []tls.Certificate{cert}
	files.cert, files.key = certPath, keyPath
	return cfg, files
}

// clientAuth checks client_ca_file and client_auth of a listener's tls
// block: whether and how clients must present a certificate (mTLS). It
// returns the mode, the pool of client CAs (nil without client_ca_file)
// and the pool's resolved path.
func (l *loader) clientAuth(b *listenerTLSBody, baseDir string) (tls.ClientAuthType, *x509.CertPool, string) {
	const (
		caAllowed = "client_ca_file names a PEM file with the certificates of the " +
			"CAs that sign client certificates; a relative path is relative to the " +
			"configuration's directory."
		modeAllowed = `client_auth is "require" (every client must present a ` +
			`certificate signed by a CA of client_ca_file; the default with ` +
			`client_ca_file), "optional" (a client may present none, but one it ` +
			`presents must be signed by such a CA) or "none" (no certificate is ` +
			`asked for; the default without client_ca_file).`
	)
	var (
		pool *x509.CertPool
		path string
	)
	// A client_ca_file whose value was reported wrong still counts as
	// written: the mode is checked as if it were right.
	caWritten := present(b.ClientCAFileRange)
	if b.ClientCAFile != nil && !l.failed(b.ClientCAFileRange) {
		path = resolvePath(baseDir, *b.ClientCAFile)
		pool = l.certPool(path, b.ClientCAFileRange, "client CA file", caAllowed)
	}

	mode := ""
	if b.ClientAuth != nil && !l.failed(b.ClientAuthRange) {
		mode = *b.ClientAuth
	}
	switch mode {
	case "":
		if caWritten {
			return tls.RequireAndVerifyClientCert, pool, path
		}
		return tls.NoClientCert, nil, ""
	case "none":
		if caWritten {
			l.warnf(b.ClientAuthRange, "client_ca_file unused",
				`client_auth = "none" asks clients for no certificate, so the CAs `+
					`of client_ca_file are never used. Set client_auth = "require" `+
					`or "optional" to verify client certificates, or remove client_ca_file.`)
		}
		return tls.NoClientCert, nil, ""
	case "require", "optional":
		if !caWritten {
			l.errorf(b.ClientAuthRange, "Missing client_ca_file",
				"client_auth = %q verifies client certificates, which needs "+
					"client_ca_file: the PEM file of the CAs that sign them. Add "+
					`client_ca_file, or set client_auth = "none".`, mode)
			return tls.NoClientCert, nil, ""
		}
		if mode == "optional" {
			return tls.VerifyClientCertIfGiven, pool, path
		}
		return tls.RequireAndVerifyClientCert, pool, path
	default:
		l.errorf(b.ClientAuthRange, "Invalid client_auth", "%q is not a client_auth mode. %s", mode, modeAllowed)
		return tls.NoClientCert, pool, path
	}
}

// clientTLS checks the tls block of an upstream (b may be nil, for none)
// and builds the TLS configuration of its wss servers.
func (l *loader) clientTLS(b *upstreamTLSBody, upstream, baseDir string) (*tls.Config, tlsFiles) {
	var files tlsFiles
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
	}
	if b == nil {
		return cfg, files
	}
	cfg.MinVersion = l.minVersion(b.MinVersion, b.MinVersionRange)
	cfg.CipherSuites = l.cipherSuites(b.CipherSuites, b.CipherSuitesRange, b.Body, cfg.MinVersion)

	const caAllowed = "ca_file names a PEM file with the certificates of the CAs " +
		"that sign the upstream's certificates; a relative path is relative to " +
		"the configuration's directory. Without ca_file, the system's roots are used."
	if b.CAFile != nil && !l.failed(b.CAFileRange) {
		files.ca = resolvePath(baseDir, *b.CAFile)
		cfg.RootCAs = l.certPool(files.ca, b.CAFileRange, "CA file", caAllowed)
	}
	if b.InsecureSkipVerify != nil && *b.InsecureSkipVerify && !l.failed(b.InsecureSkipVerifyRange) {
		cfg.InsecureSkipVerify = true
		l.warnf(b.InsecureSkipVerifyRange, "TLS verification disabled",
			"insecure_skip_verify = true: wasmgate will accept any certificate from "+
				"the wss servers of upstream %q, so anyone on the network path can "+
				"impersonate them. Use ca_file to trust a private CA instead.", upstream)
	}
	if b.ServerName != nil && !l.failed(b.ServerNameRange) {
		name := *b.ServerName
		if reason := checkHostname(name); reason != "" {
			l.errorf(b.ServerNameRange, "Invalid server_name",
				"%q is not a host name: %s. server_name is the name that the wss "+
					"servers' certificates must carry (and that is sent as SNI), "+
					`e.g. "chat.internal".`, name, reason)
		}
		cfg.ServerName = name
	}
	cert, certFile, keyFile := l.clientCertificate(b, upstream, baseDir)
	if certFile != "" {
		cfg.Certificates = []tls.Certificate{cert}
		files.cert, files.key = certFile, keyFile
	}
	return cfg, files
}

// clientCertificate checks the cert_file and key_file of an upstream's tls
// block: the certificate wasmgate presents to wss servers that ask for one.
// The paths are empty when neither is set, or after reporting a problem.
func (l *loader) clientCertificate(b *upstreamTLSBody, upstream, baseDir string) (cert tls.Certificate, certPath, keyPath string) {
	const (
		certAllowed = "cert_file names a PEM file with the client certificate that " +
			"wasmgate presents to the upstream's wss servers (for servers that require " +
			"one, mTLS), followed by any intermediate certificates; key_file names " +
			"the file of its private key. Set both, or neither; a relative path is " +
			"relative to the configuration's directory."
		keyAllowed = "key_file names a PEM file with the private key (PKCS #1, " +
			"PKCS #8 or SEC 1 EC) of the client certificate of cert_file. Set both, " +
			"or neither; a relative path is relative to the configuration's directory."
	)
	if b.CertFile == nil && b.KeyFile == nil {
		return tls.Certificate{}, "", ""
	}
	certPath = l.requiredPath(b.CertFile, b.CertFileRange, b.DefRange, "cert_file", certAllowed, baseDir)
	keyPath = l.requiredPath(b.KeyFile, b.KeyFileRange, b.DefRange, "key_file", keyAllowed, baseDir)
	if certPath == "" || keyPath == "" {
		return tls.Certificate{}, "", ""
	}
	cert, leaf, ok := l.keyPair(certPath, keyPath, b.CertFileRange, b.KeyFileRange, certAllowed, keyAllowed)
	if !ok {
		return tls.Certificate{}, "", ""
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		l.warnf(b.CertFileRange, "Certificate expired",
			"The client certificate in %s expired on %s: the wss servers of "+
				"upstream %q will refuse it if they verify client certificates. Renew it.",
			certPath, leaf.NotAfter.UTC().Format(time.DateOnly), upstream)
	}
	// Go's servers, like most, check the extended key usage of a client
	// certificate: one issued only for servers is refused.
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) &&
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		l.warnf(b.CertFileRange, "Not a client certificate",
			"The certificate in %s is not issued for client authentication (its "+
				"extended key usage lacks clientAuth): the wss servers of upstream %q "+
				"will refuse it if they verify client certificates. Use a certificate "+
				"issued for client authentication.", certPath, upstream)
	}
	return cert, certPath, keyPath
}

// keyPair reads a certificate and its private key, both paths resolved,
// and checks that they match. ok is false after reporting a problem.
func (l *loader) keyPair(certPath, keyPath string, certRange, keyRange hcl.Range, certAllowed, keyAllowed string) (cert tls.Certificate, leaf *x509.Certificate, ok bool) {
	certPEM, err := readFile(certPath)
	if err != nil {
		l.errorf(certRange, "Cannot read certificate", "%s. %s", err, certAllowed)
	}
	keyPEM, err := readFile(keyPath)
	if err != nil {
		l.errorf(keyRange, "Cannot read private key", "%s. %s", err, keyAllowed)
	}
	if certPEM == nil || keyPEM == nil {
		return tls.Certificate{}, nil, false
	}
	leaf, err = firstCertificate(certPEM)
	if err != nil {
		l.errorf(certRange, "Invalid certificate", "%s holds no usable certificate: %s. %s", certPath, err, certAllowed)
		return tls.Certificate{}, nil, false
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		l.errorf(keyRange, "Invalid private key",
			"%s holds no private key that matches the certificate in %s: %s. %s",
			keyPath, certPath, strings.TrimPrefix(err.Error(), "tls: "), keyAllowed)
		return tls.Certificate{}, nil, false
	}
	return cert, leaf, true
}

// certPool reads a PEM file of CA certificates; what names the attribute
// in the diagnostics ("CA file"). The pool is empty after reporting a
// problem.
func (l *loader) certPool(path string, rng hcl.Range, what, allowed string) *x509.CertPool {
	pool := x509.NewCertPool()
	data, err := readFile(path)
	switch {
	case err != nil:
		l.errorf(rng, "Cannot read "+what, "%s. %s", err, allowed)
	case !pool.AppendCertsFromPEM(data):
		l.errorf(rng, "Invalid "+what, "%s holds no PEM certificate that can be parsed. %s", path, allowed)
	}
	return pool
}

// requiredPath checks a file attribute that must be set, and resolves it.
// It returns "" after reporting a problem.
func (l *loader) requiredPath(v *string, rng, blockRange hcl.Range, name, allowed, baseDir string) string {
	switch {
	case l.failed(rng):
		return ""
	case v == nil:
		l.errorf(blockRange, "Missing "+name, "This tls block has no %s. %s", name, allowed)
		return ""
	case *v == "":
		l.errorf(rng, "Empty "+name, "%s is empty. %s", name, allowed)
		return ""
	}
	return resolvePath(baseDir, *v)
}

// firstCertificate parses the first certificate of a PEM file.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// minVersion checks a min_version attribute; without one, or after
// reporting a problem, it is TLS 1.2.
func (l *loader) minVersion(v *string, rng hcl.Range) uint16 {
	const allowed = `min_version is "1.2" (the default) or "1.3".`
	if v == nil || l.failed(rng) {
		return tls.VersionTLS12
	}
	switch *v {
	case "1.2":
		return tls.VersionTLS12
	case "1.3":
		return tls.VersionTLS13
	case "1", "1.0", "1.1": // 1 is how HCL writes the number 1.0 as a string
		l.errorf(rng, "TLS version too old",
			"min_version = %q is refused: TLS 1.0 and 1.1 are deprecated (RFC 8996), "+
				"with weak hashes and no AEAD cipher suites, and wasmgate never speaks "+
				"them. %s", *v, allowed)
	default:
		l.errorf(rng, "Invalid min_version", "%q is not a TLS version. %s", *v, allowed)
	}
	return tls.VersionTLS12
}

// cipherSuites checks a cipher_suites attribute. It returns nil, Go's
// defaults, when the attribute is absent or after reporting a problem.
func (l *loader) cipherSuites(names []string, rng hcl.Range, body hcl.Body, minVersion uint16) []uint16 {
	if !present(rng) || l.failed(rng) {
		return nil
	}
	if len(names) == 0 {
		l.errorf(rng, "Empty cipher_suites",
			"cipher_suites is empty, which would leave TLS 1.2 no cipher suite. "+
				`Remove it to use Go's defaults, list suites, or set min_version = "1.3" `+
				"to refuse TLS 1.2. %s", cipherSuitesAllowed())
		return nil
	}
	secure := map[string]*tls.CipherSuite{}
	for _, s := range tls.CipherSuites() {
		secure[s.Name] = s
	}
	insecure := map[string]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.Name] = true
	}
	var (
		ids    []uint16
		failed bool
	)
	for i, name := range names {
		at := elemRange(body, "cipher_suites", i, rng)
		s := secure[name]
		switch {
		case s != nil && !slices.Contains(s.SupportedVersions, tls.VersionTLS12):
			l.errorf(at, "TLS 1.3 cipher suite",
				"%s is a TLS 1.3 cipher suite. Go enables every TLS 1.3 suite and does "+
					"not let them be chosen; cipher_suites applies to TLS 1.2 only. "+
					"Remove it. %s", name, cipherSuitesAllowed())
			failed = true
		case s != nil:
			if slices.Contains(ids, s.ID) {
				l.warnf(at, "Duplicate cipher suite", "%s is already listed in cipher_suites. Remove one of them.", name)
				continue
			}
			ids = append(ids, s.ID)
		case insecure[name]:
			l.errorf(at, "Insecure cipher suite",
				"%s is refused: %s, so Go lists it among its insecure suites "+
					"(tls.InsecureCipherSuites) and wasmgate never enables one. %s",
				name, whyInsecure(name), cipherSuitesAllowed())
			failed = true
		default:
			hint := ""
			for n := range secure {
				if strings.EqualFold(n, name) {
					hint = ` Did you mean "` + n + `"?`
				}
			}
			l.errorf(at, "Unknown cipher suite", "%q is not the name of a cipher suite.%s %s", name, hint, cipherSuitesAllowed())
			failed = true
		}
	}
	if failed {
		return nil
	}
	if minVersion == tls.VersionTLS13 {
		l.warnf(rng, "cipher_suites unused",
			`With min_version = "1.3" TLS 1.2 is refused, and Go does not let TLS 1.3 `+
				"cipher suites be chosen, so cipher_suites has no effect. Remove it, "+
				`or set min_version = "1.2".`)
	}
	return ids
}

// cipherSuitesAllowed lists the names cipher_suites takes: Go's secure
// suites for TLS 1.2.
func cipherSuitesAllowed() string {
	var names []string
	for _, s := range tls.CipherSuites() {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			names = append(names, s.Name)
		}
	}
	return "cipher_suites lists TLS 1.2 cipher suites by their Go (IANA) names, " +
		"in any order (Go orders them itself): " + strings.Join(names, ", ") + "."
}

// whyInsecure says why Go deems a cipher suite insecure.
func whyInsecure(name string) string {
	switch {
	case strings.Contains(name, "_RC4_"):
		return "RC4 is broken (RFC 7465)"
	case strings.Contains(name, "_3DES_"):
		return "3DES has a 64-bit block, open to collision attacks (Sweet32)"
	case strings.HasPrefix(name, "TLS_RSA_"):
		return "its RSA key exchange has no forward secrecy, and is open to padding oracle attacks"
	case strings.HasSuffix(name, "_CBC_SHA256"):
		return "CBC with HMAC-SHA256 is open to timing attacks (Lucky13), which Go does not defend against"
	}
	return "it is known to be weak"
}

// checkSuitesFitKey warns when no TLS 1.2 suite of a listener's
// cipher_suites can be used with its certificate's key: every TLS 1.2
// handshake would then fail. TLS_ECDHE_ECDSA_* suites need an ECDSA (or
// Ed25519) key, TLS_ECDHE_RSA_* an RSA key.
func (l *loader) checkSuitesFitKey(ids []uint16, leaf *x509.Certificate, certPath string, rng hcl.Range) {
	if len(ids) == 0 {
		return
	}
	var kind, want string
	switch leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		kind, want = "an ECDSA", "_ECDSA_"
	case ed25519.PublicKey:
		kind, want = "an Ed25519", "_ECDSA_"
	case *rsa.PublicKey:
		kind, want = "an RSA", "_RSA_"
	default:
		return
	}
	for _, id := range ids {
		if strings.Contains(tls.CipherSuiteName(id), want) {
			return
		}
	}
	l.warnf(rng, "No cipher suite fits the certificate",
		"The certificate in %s has %s key, and no suite of cipher_suites can be "+
			"used with it (they need TLS_ECDHE%s* suites): TLS 1.2 clients cannot "+
			"connect, only TLS 1.3 clients can. Add such a suite, or set "+
			`min_version = "1.3".`, certPath, kind, want)
}

// tlsVersionName is the min_version value of a TLS version.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return tls.VersionName(v)
}

// clientAuthName is the client_auth value of a ClientAuthType.
func clientAuthName(a tls.ClientAuthType) string {
	switch a {
	case tls.NoClientCert:
		return "none"
	case tls.VerifyClientCertIfGiven:
		return "optional"
	case tls.RequireAndVerifyClientCert:
		return "require"
	}
	return a.String()
}

// cipherSuiteNames names the suites of a tls.Config's CipherSuites; nil,
// Go's defaults, stays nil.
func cipherSuiteNames(ids []uint16) []string {
	if ids == nil {
		return nil
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = tls.CipherSuiteName(id)
	}
	return names
}
