package oauth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// UsersSecretName is the Secret whose key UsersSecretKey holds local users in
// htpasswd format with bcrypt hashes (htpasswd -B).
const (
	UsersSecretName = "herald-users"
	UsersSecretKey  = "htpasswd"
)

// dummyHashes are compared against when a user does not exist, one per
// bcrypt cost, so a failed sign-in takes as long whether or not the name is
// known: the dummy has the cost of the users' own hashes (htpasswd -B
// makes cost 5, Herald cost 10), or timing would tell names apart.
var dummyHashes sync.Map // cost → []byte

func dummyHash(cost int) []byte {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("not-a-real-password"), cost)
	if err != nil {
		h, _ = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)
	}
	dummyHashes.Store(cost, h)
	return h
}

// EnsureLocalUser creates or replaces user's line in the users Secret with a
// bcrypt hash of password. Pass a direct client (client.New, or the manager's
// APIReader-backed writer), not a cached one: a cached Get on a Secret would
// start a cluster-wide Secret informer.
func EnsureLocalUser(ctx context.Context, c client.Client, namespace, user, password string) error {
	if !localUserName(user) {
		return fmt.Errorf("oauth: user name %q is empty or contains ':', '@', '/' or a line break; choose a plain name (an e-mail address names a person signed in through the identity provider)", user)
	}
	if password == "" {
		return fmt.Errorf("oauth: the password for user %q is empty; set one", user)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("oauth: hashing the password for %q: %w (bcrypt accepts at most 72 bytes)", user, err)
	}
	line := user + ":" + string(hash)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var sec corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: UsersSecretName}, &sec)
		if apierrors.IsNotFound(err) {
			return c.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: UsersSecretName},
				Data:       map[string][]byte{UsersSecretKey: []byte(line + "\n")},
			})
		}
		if err != nil {
			return err
		}
		var out bytes.Buffer
		for _, l := range strings.Split(string(sec.Data[UsersSecretKey]), "\n") {
			if l == "" || strings.HasPrefix(l, user+":") {
				continue
			}
			out.WriteString(l + "\n")
		}
		out.WriteString(line + "\n")
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[UsersSecretKey] = out.Bytes()
		return c.Update(ctx, &sec)
	})
}

// localUserName reports whether name may be a local user's: subjects with
// @ (verified e-mail addresses) or / (other claims, prefixed by their
// issuer) come from the identity provider, and a local user must never be
// taken for one of them.
func localUserName(name string) bool {
	return name != "" && !strings.ContainsAny(name, ":@/\n\r")
}

// checkPassword reports whether user is known and whether user/password
// match a line of the users Secret. A line whose name could be an
// identity provider's subject is never a local user.
func (s *Server) checkPassword(ctx context.Context, user, password string) (known, ok bool, err error) {
	var sec corev1.Secret
	err = s.apiReader.Get(ctx, client.ObjectKey{Namespace: s.cfg.Namespace, Name: UsersSecretName}, &sec)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, false, err
	}
	hash, found := hashFor(sec.Data[UsersSecretKey], user)
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	return found, found && match, nil
}

// hashFor finds user's hash in an htpasswd file, or a dummy of the cost
// the file's hashes have, to compare against all the same.
func hashFor(htpasswd []byte, user string) (hash []byte, found bool) {
	cost := bcrypt.DefaultCost
	sc := bufio.NewScanner(bytes.NewReader(htpasswd))
	for sc.Scan() {
		name, h, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		if c, err := bcrypt.Cost([]byte(h)); err == nil {
			cost = c
		}
		if name == user && localUserName(name) {
			return []byte(h), true
		}
	}
	return dummyHash(cost), false
}

// userRemoved reports whether subject can no longer act: a local user no
// longer in the users Secret, or anyone who is no longer a member of any
// workspace. Refreshes and sign-in cookies end with it, not when they
// expire.
func (s *Server) userRemoved(ctx context.Context, subject string) (bool, error) {
	if localUserName(subject) {
		if removed, err := s.localUserRemoved(ctx, subject); err != nil || removed {
			return removed, err
		}
	}
	ws, err := s.memberWorkspaces(ctx, subject)
	if err != nil {
		return false, err
	}
	return len(ws) == 0, nil
}

// localUserRemoved reports whether a local user's line is gone from the
// users Secret.
func (s *Server) localUserRemoved(ctx context.Context, user string) (bool, error) {
	var sec corev1.Secret
	err := s.apiReader.Get(ctx, client.ObjectKey{Namespace: s.cfg.Namespace, Name: UsersSecretName}, &sec)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	_, found := hashFor(sec.Data[UsersSecretKey], user)
	return !found, nil
}
