package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BrandColor is a named colour of the brand.
type BrandColor struct {
	// name says what the colour is for, such as primary or accent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`

	// hex is the colour as #RRGGBB.
	// +required
	// +kubebuilder:validation:Pattern=`^#[0-9a-fA-F]{6}$`
	Hex string `json:"hex"`
}

// BrandFont is a typeface the brand uses.
type BrandFont struct {
	// name says where the font is used, such as heading or body.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`

	// family is the font family, such as Inter.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Family string `json:"family"`
}

// BrandLogo is an image of the brand's logo.
type BrandLogo struct {
	// name says which variant it is, such as square or dark.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`

	// url is where the image is served (https).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an http or https URL"
	URL string `json:"url"`

	// altText describes the image for people who cannot see it.
	// +optional
	// +kubebuilder:validation:MaxLength=1500
	AltText string `json:"altText,omitempty"`
}

// HashtagSet is a named group of hashtags a post or workflow can pick.
type HashtagSet struct {
	// name identifies the set, such as launch or hiring.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`

	// hashtags in the set, with or without the leading #.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +kubebuilder:validation:items:Pattern=`^#?[\p{L}\p{N}_]+$`
	// +kubebuilder:validation:items:MaxLength=100
	Hashtags []string `json:"hashtags"`
}

// BrandPlatformOverride changes what the brand kit adds for one platform.
type BrandPlatformOverride struct {
	// platform the override applies to.
	// +required
	Platform Platform `json:"platform"`

	// signature replaces the kit's signature on this platform; an empty string
	// adds none.
	// +optional
	// +kubebuilder:validation:MaxLength=500
	Signature *string `json:"signature,omitempty"`

	// hashtags replace the kit's hashtags on this platform; an empty list adds none.
	// +optional
	// +kubebuilder:validation:MaxItems=30
	// +kubebuilder:validation:items:Pattern=`^#?[\p{L}\p{N}_]+$`
	// +kubebuilder:validation:items:MaxLength=100
	Hashtags []string `json:"hashtags,omitempty"`
}

// BrandKitSpec is a brand's voice and look, applied to every post that names it.
type BrandKitSpec struct {
	// displayName is the kit's name as people see it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	DisplayName string `json:"displayName"`

	// voice describes how the brand speaks, for people and assistants writing
	// posts (for example "friendly, plain English, no jargon").
	// +optional
	// +kubebuilder:validation:MaxLength=4000
	Voice string `json:"voice,omitempty"`

	// tone lists adjectives for the brand's tone, such as warm or confident.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=64
	Tone []string `json:"tone,omitempty"`

	// colors of the brand.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Colors []BrandColor `json:"colors,omitempty"`

	// fonts of the brand.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Fonts []BrandFont `json:"fonts,omitempty"`

	// logos of the brand.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Logos []BrandLogo `json:"logos,omitempty"`

	// signature is appended to every post, in a paragraph of its own.
	// +optional
	// +kubebuilder:validation:MaxLength=500
	Signature string `json:"signature,omitempty"`

	// hashtags are appended to every post, skipping those already in the text.
	// +optional
	// +kubebuilder:validation:MaxItems=30
	// +kubebuilder:validation:items:Pattern=`^#?[\p{L}\p{N}_]+$`
	// +kubebuilder:validation:items:MaxLength=100
	Hashtags []string `json:"hashtags,omitempty"`

	// hashtagSets are named groups of hashtags that posts and workflows can pick.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	HashtagSets []HashtagSet `json:"hashtagSets,omitempty"`

	// bannedWords must not appear in a post using this kit; a preview reports
	// them and publishing refuses the post.
	// +optional
	// +kubebuilder:validation:MaxItems=200
	// +kubebuilder:validation:items:MaxLength=100
	BannedWords []string `json:"bannedWords,omitempty"`

	// platformOverrides change the signature or hashtags for one platform.
	// +optional
	// +listType=map
	// +listMapKey=platform
	PlatformOverrides []BrandPlatformOverride `json:"platformOverrides,omitempty"`
}

// BrandKitStatus is empty: nothing reconciles a brand kit.
type BrandKitStatus struct {
	// observedGeneration is not set: nothing reconciles a brand kit.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are not set: a problem with a kit shows on the posts
	// that name it.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BrandKit holds a brand's voice, colours, fonts, logos, hashtags, signature and
// banned words; posts name it to be rendered in the brand's style. It is a
// record read when a post is rendered, with no reconciler of its own: health
// checks (kstatus) read it Current as soon as it exists, the API server
// refuses a spec that cannot work, and a post naming a kit that does not
// exist says so in its own status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bk;brandkit,categories=herald
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Signature",type=string,JSONPath=`.spec.signature`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BrandKit struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the brand.
	// +required
	Spec BrandKitSpec `json:"spec"`

	// status is what Herald observed.
	// +optional
	Status BrandKitStatus `json:"status,omitempty"`
}

// BrandKitList is a list of BrandKits.
// +kubebuilder:object:root=true
type BrandKitList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BrandKit `json:"items"`
}
