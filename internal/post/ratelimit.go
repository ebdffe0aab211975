package post

import (
	"fmt"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
)

// PostsPerHour is the most posts Herald sends to profile in an hour: the
// profile's own limit, else its platform's documented one (info); 0 for
// none.
func PostsPerHour(profile *socialv1alpha1.SocialProfile, info publish.Info) int {
	if profile.Spec.PostsPerHour != nil {
		return int(*profile.Spec.PostsPerHour)
	}
	return info.PostsPerHour
}

// PostingLimit says PostsPerHour in words, with where the number comes
// from, for previews.
func PostingLimit(profile *socialv1alpha1.SocialProfile, info publish.Info) string {
	n := PostsPerHour(profile, info)
	unit := "posts"
	if n == 1 {
		unit = "post"
	}
	switch {
	case n <= 0:
		return "no limit"
	case profile.Spec.PostsPerHour != nil:
		return fmt.Sprintf("%d %s per hour, the profile's spec.postsPerHour", n, unit)
	}
	return fmt.Sprintf("%d %s per hour, to stay within %s's limit of %s", n, unit, info.Name(), info.PostsPerHourSource)
}
