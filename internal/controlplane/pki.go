package controlplane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the control plane's certificates and keys, kept under
// dataDir/pki so a restart keeps the kubeconfig's CA and the service
// account tokens valid.
type pki struct {
	dir string
}

// The files of the pki folder.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "apiserver.crt"
	servingKeyFile  = "apiserver.key"
	adminCertFile   = "admin.crt"
	adminKeyFile    = "admin.key"
	saPublicFile    = "service-account.pub"
	saKeyFile       = "service-account.key"
)

func (p pki) path(file string) string { return filepath.Join(p.dir, file) }

// ensure makes the certificates when any file is missing or unreadable;
// they last ten years, as a development cluster's data may.
func (p pki) ensure() error {
	if p.complete() {
		return nil
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	caKey, err := newKey()
	if err != nil {
		return err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "herald-embedded-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := sign(caTemplate, caTemplate, caKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	issue := func(certFile, keyFile string, template *x509.Certificate) error {
		key, err := newKey()
		if err != nil {
			return err
		}
		template.NotBefore, template.NotAfter = now.Add(-time.Hour), now.AddDate(10, 0, 0)
		template.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := sign(template, ca, key, caKey)
		if err != nil {
			return err
		}
		return p.write(certFile, keyFile, der, key)
	}
	if err := issue(servingCertFile, servingKeyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return err
	}
	// system:masters may do anything, as the administrator of a
	// development cluster does.
	if err := issue(adminCertFile, adminKeyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "herald-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return err
	}
	saKey, err := newKey()
	if err != nil {
		return err
	}
	saPublic, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return err
	}
	if err := writePEM(p.path(saPublicFile), "PUBLIC KEY", saPublic); err != nil {
		return err
	}
	if err := writeKey(p.path(saKeyFile), saKey); err != nil {
		return err
	}
	// The CA goes last: its presence with the rest means the set is whole.
	return p.write(caCertFile, caKeyFile, caDER, caKey)
}

// complete reports whether every file is there and the certificates parse.
func (p pki) complete() bool {
	for _, pair := range [][2]string{{caCertFile, caKeyFile}, {servingCertFile, servingKeyFile}, {adminCertFile, adminKeyFile}} {
		data, err := os.ReadFile(p.path(pair[0]))
		if err != nil {
			return false
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return false
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return false
		}
		if _, err := os.Stat(p.path(pair[1])); err != nil {
			return false
		}
	}
	for _, f := range []string{saPublicFile, saKeyFile} {
		if _, err := os.Stat(p.path(f)); err != nil {
			return false
		}
	}
	return true
}

func (p pki) write(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	if err := writeKey(p.path(keyFile), key); err != nil {
		return err
	}
	return writePEM(p.path(certFile), "CERTIFICATE", der)
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func sign(template, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("making the certificate for %s: %w", template.Subject.CommonName, err)
	}
	return der, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

func writePEM(path, blockType string, der []byte) error {
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if data == nil {
		return errors.New("encoding " + path)
	}
	return os.WriteFile(path, data, 0o600)
}
