package platformtest

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"time"
)

// mediaName is the file name ServeMedia reads a file from: an optional
// prefix, the image's width×height, an optional size in bytes, and the
// extension that names its format: "cup-1080x1350.jpg",
// "huge-1080x1080-9000000bytes.jpg".
var mediaName = regexp.MustCompile(`(?:^|-)(\d{1,5})x(\d{1,5})(?:-(\d{1,10})bytes)?\.(jpg|jpeg|png|gif)$`)

// ServeMedia answers GET /files/{name} as a media host does: the image
// the name describes, encoded in the format its extension names and padded
// to the size it names, with Range requests honoured (a platform, or
// Herald looking at a file's header, reads only the start). Any other name
// is an empty file.
func ServeMedia(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(MediaFile(name)))
}

// MediaFile is the file ServeMedia serves as name.
func MediaFile(name string) []byte {
	m := mediaName.FindStringSubmatch(name)
	if m == nil {
		return nil
	}
	width, _ := strconv.Atoi(m[1])
	height, _ := strconv.Atoi(m[2])
	img := image.NewGray(image.Rect(0, 0, width, height))
	var b bytes.Buffer
	switch m[4] {
	case "png":
		_ = png.Encode(&b, img)
	case "gif":
		_ = gif.Encode(&b, img, nil)
	default:
		_ = jpeg.Encode(&b, img, nil)
	}
	if size, _ := strconv.Atoi(m[3]); size > b.Len() {
		// Bytes after the image's end are ignored by its readers, as a
		// camera's trailing data is.
		b.Write(make([]byte, size-b.Len()))
	}
	return b.Bytes()
}
