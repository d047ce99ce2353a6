// tarlist: the oracle for tests/tar_oracle.rs.
//
// It reads one uncompressed tar stream from stdin with Go's archive/tar (the
// reader Docker, containerd, podman, buildah and umoci use) and prints the
// tree a runtime would build from it, one line per entry, in the same
// canonical format as ironhull's `fs::listing::canonical_listing`. Names are
// cleaned as runtimes clean them (filepath.Clean below the root), whiteouts
// are shown as what they remove. Any read error exits with status 1.
//
// Standard library only: build with `go build tarlist.go`.
package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

func clean(name string) string {
	c := path.Clean("/" + name)
	c = strings.TrimPrefix(c, "/")
	if c == "" {
		return "."
	}
	return c
}

func main() {
	tr := tar.NewReader(bufio.NewReader(os.Stdin))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "tarlist: %v\n", err)
			os.Exit(1)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := clean(hdr.Name)
		base := path.Base(name)
		dir := path.Dir(name)
		if base == ".wh..wh..opq" {
			fmt.Fprintf(out, "opaque\t%s\n", clean(dir))
			continue
		}
		if strings.HasPrefix(base, ".wh..wh.") {
			continue // aufs metadata
		}
		if strings.HasPrefix(base, ".wh.") {
			fmt.Fprintf(out, "whiteout\t%s\n", clean(path.Join(dir, strings.TrimPrefix(base, ".wh."))))
			continue
		}
		var kind, link string
		switch hdr.Typeflag {
		case tar.TypeReg:
			kind = "file"
		case tar.TypeDir:
			kind = "dir"
		case tar.TypeSymlink:
			kind, link = "symlink", hdr.Linkname
		case tar.TypeLink:
			kind, link = "hardlink", clean(hdr.Linkname)
		case tar.TypeChar:
			kind, link = "char", fmt.Sprintf("%d,%d", hdr.Devmajor, hdr.Devminor)
		case tar.TypeBlock:
			kind, link = "block", fmt.Sprintf("%d,%d", hdr.Devmajor, hdr.Devminor)
		case tar.TypeFifo:
			kind = "fifo"
		default:
			kind = fmt.Sprintf("type%q", hdr.Typeflag)
		}
		var xattrs []string
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xattrs = append(xattrs, strings.TrimPrefix(k, "SCHILY.xattr.")+"="+hex.EncodeToString([]byte(v)))
			}
		}
		sort.Strings(xattrs)
		sum := "-"
		size := int64(0)
		if hdr.Typeflag == tar.TypeReg {
			h := sha256.New()
			n, err := io.Copy(h, tr)
			if err != nil {
				fmt.Fprintf(os.Stderr, "tarlist: %s: %v\n", hdr.Name, err)
				os.Exit(1)
			}
			size = n
			sum = hex.EncodeToString(h.Sum(nil))
		}
		// FileInfo().Mode(), which runtimes use, keeps exactly these bits.
		mode := hdr.Mode & 07777
		fmt.Fprintf(out, "%s\t%s\t%o\t%d\t%d\t%d\t%d\t%s\t[%s]\t%s\n",
			name, kind, mode, hdr.Uid, hdr.Gid, hdr.ModTime.Unix(), size, link,
			strings.Join(xattrs, ","), sum)
	}
}
