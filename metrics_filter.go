package main

import (
	"bytes"
	"net/http"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsFilter is controller-runtime's authentication and authorization
// filter, but a bearer token the API server does not accept is answered
// 401 Unauthorized, as the cluster's own components answer it, where the
// filter answers 500 as if Herald had failed.
func metricsFilter(cfg *rest.Config, hc *http.Client) (metricsserver.Filter, error) {
	checked, err := filters.WithAuthenticationAndAuthorization(cfg, hc)
	if err != nil {
		return nil, err
	}
	return func(log logr.Logger, handler http.Handler) (http.Handler, error) {
		inner, err := checked(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rw, ok := w.(*refusalWriter); ok {
				rw.admitted = true
				w = rw.ResponseWriter
			}
			handler.ServeHTTP(w, r)
		}))
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := &refusalWriter{ResponseWriter: w}
			inner.ServeHTTP(rw, r)
			rw.flush()
		}), nil
	}, nil
}

// refusalWriter holds back a 500 the filter answers before the metrics
// handler ran, to tell a rejected token from a real failure by its text.
type refusalWriter struct {
	http.ResponseWriter
	admitted bool
	held     bool
	body     bytes.Buffer
}

func (w *refusalWriter) WriteHeader(code int) {
	if !w.admitted && code == http.StatusInternalServerError {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(p []byte) (int, error) {
	if w.held {
		return w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *refusalWriter) flush() {
	if !w.held {
		return
	}
	if bytes.HasPrefix(w.body.Bytes(), []byte("Authentication failed")) {
		http.Error(w.ResponseWriter, "Unauthorized: the bearer token is not one the cluster accepts", http.StatusUnauthorized)
		return
	}
	w.ResponseWriter.WriteHeader(http.StatusInternalServerError)
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
}
