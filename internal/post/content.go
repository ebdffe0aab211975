package post

import (
	"fmt"
	"unicode/utf8"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// MaxCharacters is the most a post's text and variants hold together, in
// characters (Unicode code points, as the API server counts them).
const MaxCharacters = 100000

// ContentProblems lists what the API server would refuse in a post's text
// and variants, given the profiles it publishes to: a variant for a profile
// it does not publish to, a second variant for one profile or one platform,
// and text and variants past MaxCharacters together. The CRDs say the same
// in CEL, for ScheduledPosts, RecurringPosts and workflows' post templates
// alike; whatever makes a post from one of them checks here first, so a
// refusal names the variant to change rather than quoting the API server.
func ContentProblems(text string, profiles []string, variants []socialv1alpha1.PostVariant) []string {
	var problems []string
	targets := make(map[string]bool, len(profiles))
	for _, p := range profiles {
		targets[p] = true
	}
	first := map[string]int{}
	total := utf8.RuneCountInString(text)
	for i, v := range variants {
		total += utf8.RuneCountInString(v.Text)
		what := fmt.Sprintf("platform %q", v.Platform)
		if v.Profile != "" {
			what = fmt.Sprintf("profile %q", v.Profile)
			if !targets[v.Profile] {
				problems = append(problems, fmt.Sprintf("variants[%d] is for profile %q, which is not one of the post's profiles; add the profile or remove the variant", i, v.Profile))
			}
		}
		if j, seen := first[what]; seen {
			problems = append(problems, fmt.Sprintf("variants[%d] is a second variant for %s, after variants[%d]; keep one", i, what, j))
			continue
		}
		first[what] = i
	}
	if total > MaxCharacters {
		problems = append(problems, fmt.Sprintf("the text and variants hold %d characters together, more than the %d a post holds; shorten them", total, MaxCharacters))
	}
	return problems
}
