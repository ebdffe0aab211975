// Package scheme builds the runtime.Scheme Herald's clients and manager use.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// New returns a scheme that knows the built-in kinds and Herald's.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // a broken built-in scheme is a programming error
	}
	if err := socialv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
