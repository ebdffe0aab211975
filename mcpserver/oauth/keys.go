package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"sort"
	"strings"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KeysSecretName is the Secret holding the token signing keys and the HMAC
// secret for codes, refresh tokens and cookies. Every replica reads the same one.
const KeysSecretName = "herald-oauth-keys"

// Keys in KeysSecretName: "hmac" (32 random bytes), "current" (the kid that
// signs new tokens) and one "key-<kid>.pem" per signing key. To rotate, add a
// new key-<kid>.pem, point "current" at it, restart, and remove the old key
// after AccessTokenLifetime; until then /oauth/jwks publishes both.
const (
	keyHMAC    = "hmac"
	keyCurrent = "current"
	keyPrefix  = "key-"
	keySuffix  = ".pem"
)

type keySet struct {
	hmacSecret []byte
	currentKid string
	private    map[string]*ecdsa.PrivateKey
}

func loadOrCreateKeys(ctx context.Context, c client.Client, r client.Reader, ns string) (*keySet, error) {
	var sec corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: KeysSecretName}, &sec)
	if apierrors.IsNotFound(err) {
		sec, err = newKeysSecret(ns)
		if err == nil {
			err = c.Create(ctx, &sec)
		}
		if apierrors.IsAlreadyExists(err) { // another replica won the race: use its keys
			err = r.Get(ctx, client.ObjectKey{Namespace: ns, Name: KeysSecretName}, &sec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: loading signing keys from Secret %s/%s: %w (Herald needs get and create on Secrets in its namespace)", ns, KeysSecretName, err)
	}
	return parseKeys(&sec)
}

func newKeysSecret(ns string) (corev1.Secret, error) {
	h := make([]byte, 32)
	if _, err := rand.Read(h); err != nil {
		return corev1.Secret{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return corev1.Secret{}, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return corev1.Secret{}, err
	}
	kidBytes := make([]byte, 8)
	if _, err := rand.Read(kidBytes); err != nil {
		return corev1.Secret{}, err
	}
	kid := hex.EncodeToString(kidBytes)
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: KeysSecretName, Labels: map[string]string{labelManagedBy: managedByValue}},
		Data: map[string][]byte{
			keyHMAC:                     h,
			keyCurrent:                  []byte(kid),
			keyPrefix + kid + keySuffix: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
		},
	}, nil
}

func parseKeys(sec *corev1.Secret) (*keySet, error) {
	ks := &keySet{hmacSecret: sec.Data[keyHMAC], currentKid: string(sec.Data[keyCurrent]), private: map[string]*ecdsa.PrivateKey{}}
	if len(ks.hmacSecret) < 32 {
		return nil, fmt.Errorf("oauth: Secret %s/%s key %q must hold at least 32 bytes; delete the Secret to have Herald generate a new one", sec.Namespace, sec.Name, keyHMAC)
	}
	for k, v := range sec.Data {
		if !strings.HasPrefix(k, keyPrefix) || !strings.HasSuffix(k, keySuffix) {
			continue
		}
		kid := strings.TrimSuffix(strings.TrimPrefix(k, keyPrefix), keySuffix)
		block, _ := pem.Decode(v)
		if block == nil {
			return nil, fmt.Errorf("oauth: Secret %s/%s key %q is not PEM; store an EC P-256 private key (openssl ecparam -name prime256v1 -genkey)", sec.Namespace, sec.Name, k)
		}
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil || key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("oauth: Secret %s/%s key %q is not an EC P-256 private key; ES256 needs one", sec.Namespace, sec.Name, k)
		}
		ks.private[kid] = key
	}
	if _, ok := ks.private[ks.currentKid]; !ok {
		return nil, fmt.Errorf("oauth: Secret %s/%s names current key %q but has no %s%s%s; add that key or point %q at an existing one", sec.Namespace, sec.Name, ks.currentKid, keyPrefix, ks.currentKid, keySuffix, keyCurrent)
	}
	return ks, nil
}

func (ks *keySet) publicKey(kid string) (*ecdsa.PublicKey, bool) {
	k, ok := ks.private[kid]
	if !ok {
		return nil, false
	}
	return &k.PublicKey, true
}

func (ks *keySet) jwks() jose.JSONWebKeySet {
	kids := make([]string, 0, len(ks.private))
	for kid := range ks.private {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	set := jose.JSONWebKeySet{}
	for _, kid := range kids {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &ks.private[kid].PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"})
	}
	return set
}

// kidSigner signs with the current key and names it in the kid header, so
// verifiers can pick the right key from /oauth/jwks during a rotation.
type kidSigner struct {
	jwt.DefaultSigner
	keys *keySet
}

func newKidSigner(ks *keySet) *kidSigner {
	return &kidSigner{keys: ks, DefaultSigner: jwt.DefaultSigner{GetPrivateKey: func(context.Context) (interface{}, error) {
		return ks.private[ks.currentKid], nil
	}}}
}

func (k *kidSigner) Generate(ctx context.Context, claims jwt.MapClaims, _ jwt.Mapper) (string, string, error) {
	return k.DefaultSigner.Generate(ctx, claims, &jwt.Headers{Extra: map[string]interface{}{"kid": k.keys.currentKid, "typ": "at+jwt"}})
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(s.keys.jwks())
}
