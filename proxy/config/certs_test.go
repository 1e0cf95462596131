package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeTestPKI writes, into a new temporary directory, a throwaway PKI
// generated for this test run (no private key is committed):
//
//	ca.pem         a self-signed CA certificate
//	cert.pem       a server certificate for localhost, signed by the CA
//	key.pem        cert.pem's private key (PKCS #8)
//	other-key.pem  a key that does not match cert.pem
//	expired.pem    an expired certificate for key.pem
//	client.pem     a client certificate (clientAuth), signed by the CA
//	client-key.pem client.pem's private key
//	garbage.pem    text that holds no PEM block
//	hello.txt      "hello", for file()
//
// and returns the directory.
func writeTestPKI(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePEM := func(name, typ string, der []byte) {
		write(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(name, "PRIVATE KEY", der)
	}

	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wasmgate test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	writePEM("ca.pem", "CERTIFICATE", caDER)

	leafKey, clientKey := newKey(), newKey()
	leaf := func(serial int64, notAfter time.Time, key *ecdsa.PrivateKey, usage x509.ExtKeyUsage) []byte {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			NotBefore:    now.Add(-48 * time.Hour),
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	writePEM("cert.pem", "CERTIFICATE", leaf(2, now.Add(24*time.Hour), leafKey, x509.ExtKeyUsageServerAuth))
	writePEM("expired.pem", "CERTIFICATE", leaf(3, now.Add(-24*time.Hour), leafKey, x509.ExtKeyUsageServerAuth))
	writeKey("key.pem", leafKey)
	writePEM("client.pem", "CERTIFICATE", leaf(4, now.Add(24*time.Hour), clientKey, x509.ExtKeyUsageClientAuth))
	writeKey("client-key.pem", clientKey)
	writeKey("other-key.pem", newKey())
	write("garbage.pem", []byte("not a certificate\n"))
	write("hello.txt", []byte("hello"))
	return dir
}
