package oauth

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashForComparesAtTheUsersCost(t *testing.T) {
	low, _ := bcrypt.GenerateFromPassword([]byte("pw"), 5) // htpasswd -B's cost
	file := []byte("ada:" + string(low) + "\nada@example.com:" + string(low) + "\n")

	if h, found := hashFor(file, "ada"); !found || string(h) != string(low) {
		t.Errorf("hashFor(ada) = %q, %v", h, found)
	}
	h, found := hashFor(file, "nobody")
	if cost, _ := bcrypt.Cost(h); found || cost != 5 {
		t.Errorf("an unknown user is compared at cost %d (found %v); want the users' cost 5, so timing does not tell names apart", cost, found)
	}
	if _, found := hashFor(file, "ada@example.com"); found {
		t.Error("a local line named like an e-mail address signs in; that name belongs to the identity provider")
	}
	if h, _ := hashFor(nil, "nobody"); func() int { c, _ := bcrypt.Cost(h); return c }() != bcrypt.DefaultCost {
		t.Error("with no users, the dummy has the default cost")
	}
}
