// Command zipper writes a Lambda deployment zip with Go alone (no zip tool needed):
//
//	go run ./cmd/certferry-lambda/internal/zipper -o dist/certferry-lambda-arm64.zip dist/lambda/arm64/bootstrap [more files]
//
// Each file is stored under its base name with mode 0755 (Lambda runs bootstrap as an
// executable) and a fixed modification time, so the same inputs make the same zip (and
// Terraform's source_code_hash does not change without a reason).
package main

import (
	"archive/zip"
	"compress/flate"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("o", "", "the zip to write")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: zipper -o out.zip file...")
		os.Exit(2)
	}
	if err := write(*out, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "zipper: %v\n", err)
		os.Exit(1)
	}
}

// epoch is the modification time of every entry (zip's DOS time starts in 1980).
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func write(out string, files []string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".zipper-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, f := range files {
		if err := add(zw, f); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

func add(zw *zip.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := &zip.FileHeader{Name: filepath.Base(path), Method: zip.Deflate, Modified: epoch}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}
