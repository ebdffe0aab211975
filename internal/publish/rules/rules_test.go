package rules_test

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// rulesFor returns the rules platform's adapter declares, with a length
// override as a profile's characterLimit gives one.
func rulesFor(platform string, override int) rules.Rules {
	info, _ := registry.Info(publish.Platform(platform))
	return info.Rules.WithLimit(override)
}

func TestXWeightedLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want int
	}{
		{"ascii", "hello world", 11},
		{"a link counts 23 however long", "see https://example.com/a/very/long/path/that/goes/on?x=1", 4 + 23},
		{"a short link still counts 23", "https://t.co", 23},
		{"trailing full stop is not part of the link", "https://example.com/page.", 23 + 1},
		{"bare domain with a generic TLD is a link", "visit example.com now", 6 + 23 + 4},
		{"an e-mail address is not a link", "a@example.com", 13},
		{"CJK weighs 2 each", "日本語", 6},
		{"Hangul weighs 2", "한국어", 6},
		{"typographic quotes are light", "\u2018hi\u2019", 4},
		{"emoji weighs 2", "👍", 2},
		{"emoji with skin tone is one emoji", "👍🏽", 2},
		{"ZWJ family is one emoji", "👨\u200d👩\u200d👧\u200d👦", 2},
		{"flag is one emoji", "🇺🇸", 2},
		{"keycap is one emoji", "1\ufe0f\u20e3", 2},
		{"non-BMP non-emoji weighs 2", "𝐀", 2},
		{"combining accent is normalised first", "e\u0301", 1},
		{"mixed", "Hi 👋 日本 https://herald.dev", 3 + 2 + 1 + 4 + 1 + 23},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(rules.XWeightedLength(tc.text)).To(Equal(tc.want))
			g.Expect(rulesFor("x", 0).Count(tc.text)).To(Equal(tc.want))
		})
	}
}

func TestXLimit(t *testing.T) {
	g := NewWithT(t)
	r := rulesFor("x", 0)
	g.Expect(r.Check(strings.Repeat("a", 280), nil)).To(BeEmpty())
	g.Expect(r.Check(strings.Repeat("日", 140), nil)).To(BeEmpty())
	problems := r.Check(strings.Repeat("日", 141), nil)
	g.Expect(problems).To(HaveLen(1))
	g.Expect(problems[0].Code).To(Equal("TooLong"))
	g.Expect(problems[0].Message).To(Equal("X allows 280 weighted characters in a post; this text has 282, 2 over."))
	// X Premium accounts get a larger limit through the profile.
	g.Expect(rulesFor("x", 25000).Check(strings.Repeat("a", 1000), nil)).To(BeEmpty())
}

func TestBlueskyGraphemes(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want int
	}{
		{"ascii", "hello", 5},
		{"ZWJ family is one grapheme", "👨\u200d👩\u200d👧\u200d👦", 1},
		{"rainbow flag is one grapheme", "🏳\ufe0f\u200d🌈", 1},
		{"skin tone is one grapheme", "👋🏿", 1},
		{"combining accent is one grapheme", "e\u0301", 1},
		{"links count in full", "https://example.com", 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(rulesFor("bluesky", 0).Count(tc.text)).To(Equal(tc.want))
		})
	}
	g := NewWithT(t)
	r := rulesFor("bluesky", 0)
	family := "👨\u200d👩\u200d👧\u200d👦"
	// 300 families: 300 graphemes, but 25 bytes each, over the 3000-byte cap.
	problems := r.Check(strings.Repeat(family, 300), nil)
	g.Expect(problems).To(HaveLen(1))
	g.Expect(problems[0].Code).To(Equal("TooManyBytes"))
	g.Expect(r.Check(strings.Repeat(family, 100), nil)).To(BeEmpty())
	problems = r.Check(strings.Repeat("é", 301), nil)
	g.Expect(problems).To(ConsistOf(HaveField("Message", "Bluesky allows 300 graphemes in a post; this text has 301, 1 over.")))
}

func TestMastodonLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want int
	}{
		{"plain", "hello", 5},
		{"link counts 23", "read https://example.com/some/really/long/path/to/an/article", 5 + 23},
		{"two links", "https://a.example https://b.example", 23 + 1 + 23},
		{"remote mention counts the user part", "hi @alice@mastodon.example", 3 + 6},
		{"local mention counts in full", "hi @alice", 9},
		{"emoji sequence is one character", "👨\u200d👩\u200d👧", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(rulesFor("mastodon", 0).Count(tc.text)).To(Equal(tc.want))
		})
	}
	g := NewWithT(t)
	g.Expect(rulesFor("mastodon", 0).Limit).To(Equal(500))
	g.Expect(rulesFor("mastodon", 0).Check(strings.Repeat("a", 476)+" https://example.com/"+strings.Repeat("x", 100), nil)).To(BeEmpty())
	// An instance with a higher limit is honoured through the override.
	over := rulesFor("mastodon", 1000)
	g.Expect(over.Check(strings.Repeat("a", 900), nil)).To(BeEmpty())
	g.Expect(over.Check(strings.Repeat("a", 1001), nil)).To(ConsistOf(HaveField("Message", "Mastodon allows 1000 characters in a post; this text has 1001, 1 over.")))
}

func TestLimitsPerPlatform(t *testing.T) {
	for _, tc := range []struct {
		platform publish.Platform
		limit    int
	}{
		{publish.Platform("x"), 280}, {publish.Platform("bluesky"), 300}, {publish.Platform("mastodon"), 500}, {publish.Platform("linkedin"), 3000},
		{publish.Platform("telegram"), 4096}, {publish.Platform("discord"), 2000}, {publish.Platform("slack"), 40000},
		{publish.Platform("webhook"), 0}, {publish.Platform("sandbox"), 0},
	} {
		t.Run(string(tc.platform), func(t *testing.T) {
			g := NewWithT(t)
			r := rulesFor(string(tc.platform), 0)
			g.Expect(r.Limit).To(Equal(tc.limit))
			if tc.limit == 0 {
				g.Expect(r.Check(strings.Repeat("a", 100000), nil)).To(BeEmpty())
				return
			}
			g.Expect(r.Check(strings.Repeat("a", tc.limit), nil)).To(BeEmpty())
			g.Expect(r.Check(strings.Repeat("a", tc.limit+5), nil)).To(ConsistOf(
				And(HaveField("Code", "TooLong"), HaveField("Message", ContainSubstring("5 over")))))
		})
	}
}

func TestTelegramCaptionAndUTF16(t *testing.T) {
	g := NewWithT(t)
	r := rulesFor("telegram", 0)
	photo := []publish.Media{{URL: "https://cdn.example/a.jpg"}}
	g.Expect(r.Check(strings.Repeat("a", 2000), nil)).To(BeEmpty())
	g.Expect(r.Check(strings.Repeat("a", 2000), publish.Attachments(photo))).To(ConsistOf(HaveField("Message",
		"Telegram allows 1024 characters in a caption with media; this text has 2000, 976 over.")))
	// An emoji beyond the BMP takes two UTF-16 code units.
	g.Expect(r.Count("😀")).To(Equal(2))
}

func TestThreadsCountsEmojiBytes(t *testing.T) {
	g := NewWithT(t)
	g.Expect(rules.ThreadsLength("hi 😀")).To(Equal(3 + 4))
	g.Expect(rules.ThreadsLength("日本")).To(Equal(2))
}

func TestMediaRules(t *testing.T) {
	img := publish.Media{URL: "https://cdn.example/a.png"}
	gif := publish.Media{URL: "https://cdn.example/a.gif"}
	video := publish.Media{URL: "https://cdn.example/a.mp4"}
	for _, tc := range []struct {
		name     string
		platform publish.Platform
		media    []publish.Media
		codes    []string
	}{
		{"X four images", publish.Platform("x"), []publish.Media{img, img, img, img}, nil},
		{"X five images", publish.Platform("x"), []publish.Media{img, img, img, img, img}, []string{"TooManyMedia", "TooManyMedia"}},
		{"X GIF", publish.Platform("x"), []publish.Media{gif}, []string{"MediaNotSupported"}},
		{"Telegram GIF with an image", publish.Platform("telegram"), []publish.Media{gif, img}, []string{"MediaMustBeAlone"}},
		{"Bluesky four images", publish.Platform("bluesky"), []publish.Media{img, img, img, img}, nil},
		{"Bluesky video", publish.Platform("bluesky"), []publish.Media{video}, []string{"MediaNotSupported"}},
		{"Mastodon one video", publish.Platform("mastodon"), []publish.Media{video}, nil},
		{"Mastodon video with an image", publish.Platform("mastodon"), []publish.Media{video, img}, []string{"MediaMustBeAlone"}},
		{"Mastodon five", publish.Platform("mastodon"), []publish.Media{img, img, img, img, img}, []string{"TooManyMedia", "TooManyMedia"}},
		{"Discord video", publish.Platform("discord"), []publish.Media{video}, []string{"MediaNotSupported"}},
		{"Telegram album", publish.Platform("telegram"), []publish.Media{img, video, img}, nil},
		{"unknown type", publish.Platform("webhook"), []publish.Media{{URL: "https://cdn.example/a", Type: "audio"}}, []string{"MediaNotSupported"}},
		{"webhook takes anything", publish.Platform("webhook"), []publish.Media{img, gif, video, video}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var codes []string
			for _, p := range rulesFor(string(tc.platform), 0).Check("text", publish.Attachments(tc.media)) {
				codes = append(codes, p.Code)
				g.Expect(p.Message).To(HaveSuffix("."))
			}
			g.Expect(codes).To(Equal(tc.codes))
		})
	}
}

func TestEmptyPost(t *testing.T) {
	g := NewWithT(t)
	g.Expect(rulesFor("mastodon", 0).Check("  \n", nil)).To(ConsistOf(HaveField("Code", "Empty")))
	g.Expect(rulesFor("mastodon", 0).Check("", publish.Attachments([]publish.Media{{URL: "https://cdn.example/a.png"}}))).To(BeEmpty())
}

func TestLinks(t *testing.T) {
	g := NewWithT(t)
	text := "See https://example.com/a_(b), and (https://herald.dev/docs). Also http://x.test/q?a=1!"
	var got []string
	for _, s := range rules.Links(text) {
		got = append(got, text[s.Start:s.End])
	}
	g.Expect(got).To(Equal([]string{"https://example.com/a_(b)", "https://herald.dev/docs", "http://x.test/q?a=1"}))
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   rules.RenderInput
		want string
	}{
		{"text only", rules.RenderInput{Text: "  Hello  "}, "Hello"},
		{"variant replaces text", rules.RenderInput{Text: "long version", VariantText: "short"}, "short"},
		{"blank variant keeps text", rules.RenderInput{Text: "text", VariantText: "  "}, "text"},
		{"signature in its own paragraph", rules.RenderInput{Text: "Hello", Signature: "— Team"}, "Hello\n\n— Team"},
		{"hashtags last, normalised", rules.RenderInput{Text: "Hello", Signature: "— Team", Hashtags: []string{"go", "##k8s", " #Cloud Native "}},
			"Hello\n\n— Team\n\n#go #k8s #CloudNative"},
		{"deduplicated ignoring case", rules.RenderInput{Text: "Hi", Hashtags: []string{"Go", "#go", "GO", "rust"}}, "Hi\n\n#Go #rust"},
		{"skips tags already in the text", rules.RenderInput{Text: "Learning #Golang today", Hashtags: []string{"golang", "k8s"}}, "Learning #Golang today\n\n#k8s"},
		{"a tag inside a longer tag is not present", rules.RenderInput{Text: "#golang", Hashtags: []string{"go"}}, "#golang\n\n#go"},
		{"skips tags in the signature", rules.RenderInput{Text: "Hi", Signature: "#herald", Hashtags: []string{"Herald"}}, "Hi\n\n#herald"},
		{"empty tags dropped", rules.RenderInput{Text: "Hi", Hashtags: []string{"", "#", "  "}}, "Hi"},
		{"no text, only tags", rules.RenderInput{Hashtags: []string{"a"}}, "#a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(rules.Render(tc.in)).To(Equal(tc.want))
			g.Expect(rules.Render(tc.in)).To(Equal(rules.Render(tc.in)), "deterministic")
		})
	}
}

func TestHashtagLimit(t *testing.T) {
	r := rules.Rules{Name: "Instagram", MaxHashtags: 2}
	if p := r.Check("#one #two #One again", nil); len(p) != 0 {
		t.Errorf("two different tags fit: %v", p)
	}
	p := r.Check("#one #two #three and #four", nil)
	if len(p) != 1 || p[0].Code != "TooManyHashtags" || !strings.Contains(p[0].Message, "Instagram allows 2 hashtags in a post; this text has 4, 2 over.") {
		t.Errorf("four tags: %v", p)
	}
	if rules.Hashtags("no tags, but C# and a#b") != 0 {
		t.Error("a # inside a word is not a hashtag")
	}
}

// TestFileRules checks what each platform that fetches media itself
// documents of files: formats by the URL's extension until the file is read,
// then by the file; sizes and aspect ratios once the file was read.
func TestFileRules(t *testing.T) {
	image := func(url string) rules.Attachment { return rules.Attachment{Type: "image", URL: url} }
	read := func(url, format string, bytes int64, w, h int) rules.Attachment {
		return rules.Attachment{Type: "image", URL: url, Format: format, Bytes: bytes, Width: w, Height: h}
	}
	video := func(url string, bytes int64) rules.Attachment {
		return rules.Attachment{Type: "video", URL: url, Bytes: bytes}
	}
	for _, tc := range []struct {
		name     string
		platform string
		media    []rules.Attachment
		codes    []string
	}{
		{"Instagram takes JPEG", "instagram", []rules.Attachment{image("https://cdn.example/a.jpg"), image("https://cdn.example/b.JPEG?w=1")}, nil},
		{"Instagram refuses a PNG by its URL", "instagram", []rules.Attachment{image("https://cdn.example/a.png")}, []string{"MediaFormat"}},
		{"a URL without an extension is left to the file", "instagram", []rules.Attachment{image("https://cdn.example/photo?id=3")}, nil},
		{"the file's format outweighs the URL's", "instagram", []rules.Attachment{read("https://cdn.example/a.png", "jpeg", 1000, 1080, 1080)}, nil},
		{"Instagram's tallest, 4:5", "instagram", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 1000, 1080, 1350)}, nil},
		{"Instagram's widest, 1.91:1 in whole pixels", "instagram", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 1000, 1080, 566)}, nil},
		{"Instagram refuses 9:16 in the feed", "instagram", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 1000, 1080, 1920)}, []string{"MediaAspectRatio"}},
		{"Instagram refuses 2:1", "instagram", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 1000, 2000, 1000)}, []string{"MediaAspectRatio"}},
		{"Instagram's 8 MB", "instagram", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 8*rules.MB+1, 1080, 1080)}, []string{"MediaTooLarge"}},
		{"Instagram's videos are MP4 or MOV", "instagram", []rules.Attachment{video("https://cdn.example/a.webm", 0), video("https://cdn.example/b.mov", rules.GB)}, []string{"MediaFormat"}},
		{"Threads takes PNG and 1:10", "threads", []rules.Attachment{read("https://cdn.example/a.png", "png", 1000, 100, 1000)}, nil},
		{"Threads refuses taller than 1:10", "threads", []rules.Attachment{read("https://cdn.example/a.png", "png", 1000, 100, 1100)}, []string{"MediaAspectRatio"}},
		{"Threads refuses WebP", "threads", []rules.Attachment{image("https://cdn.example/a.webp")}, []string{"MediaFormat"}},
		{"Threads' 1 GB video", "threads", []rules.Attachment{video("https://cdn.example/a.mp4", rules.GB+1)}, []string{"MediaTooLarge"}},
		{"Facebook takes BMP and TIFF", "facebook", []rules.Attachment{image("https://cdn.example/a.bmp"), image("https://cdn.example/b.tif")}, nil},
		{"Facebook refuses HEIF", "facebook", []rules.Attachment{image("https://cdn.example/a.heic")}, []string{"MediaFormat"}},
		{"Facebook has no size or ratio limit", "facebook", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 50*rules.MB, 9000, 1000)}, nil},
		{"Pinterest takes WebP", "pinterest", []rules.Attachment{image("https://cdn.example/a.webp")}, nil},
		{"Pinterest's 20 MB", "pinterest", []rules.Attachment{read("https://cdn.example/a.jpg", "jpeg", 20*rules.MB+1, 1000, 1500)}, []string{"MediaTooLarge"}},
		{"TikTok takes WebM", "tiktok", []rules.Attachment{video("https://cdn.example/a.webm", 0)}, nil},
		{"TikTok refuses AVI", "tiktok", []rules.Attachment{video("https://cdn.example/a.avi", 0)}, []string{"MediaFormat"}},
		{"TikTok's 4 GB", "tiktok", []rules.Attachment{video("https://cdn.example/a.mp4", 4*rules.GB+1)}, []string{"MediaTooLarge"}},
		{"a page where a file should be", "pinterest", []rules.Attachment{read("https://cdn.example/pin", "html", 3000, 0, 0)}, []string{"MediaFormat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var codes []string
			for _, p := range rulesFor(tc.platform, 0).CheckFiles(tc.media) {
				codes = append(codes, p.Code)
				g.Expect(p.AboutFile()).To(BeTrue())
				g.Expect(p.Message).To(And(HavePrefix("Attachment "), HaveSuffix(".")))
			}
			g.Expect(codes).To(Equal(tc.codes))
		})
	}
	g := NewWithT(t)
	problems := rulesFor("instagram", 0).Check("A tall one", []rules.Attachment{read("https://u:p@cdn.example/story.jpg?sig=s3cret", "jpeg", 2*rules.MB, 1080, 1920)})
	g.Expect(problems).To(ConsistOf(HaveField("Message",
		"Attachment 1 (https://cdn.example/story.jpg): Instagram takes images from 4:5 (tallest) to 1.91:1 (widest), and this one is 1080×1920, 0.56:1; crop it to fit.")),
		"Check holds the files' problems too, and names a file without its credentials or signature")
	problems = rulesFor("threads", 0).Check("A WebP", []rules.Attachment{image("https://cdn.example/a.webp")})
	g.Expect(problems[0].Message).To(Equal("Attachment 1 (https://cdn.example/a.webp): Threads takes images as JPEG or PNG only, and this file is WebP; convert it, or use another."))
	g.Expect(rulesFor("instagram", 0).Media.Describe()).To(Equal(
		"up to 10: 10 images of up to 8 MB (JPEG; 4:5 to 1.91:1), 10 videos of up to 1 GB (MP4 or MOV); an image or a video is required"))
}
