package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The structs below are the HCL schema, decoded by gohcl. Attributes that
// the configuration must set are still optional here: the loader reports a
// missing one itself, with a detail that says what to write. Every
// attribute has a range field so that a diagnostic can point at its value.
// Blocks allowed once are slices, so that each of several is still decoded
// (and checked) before the duplicate is reported.

// fileBody is the top level of a configuration file.
type fileBody struct {
	Listeners []*listenerBody `hcl:"listener,block"`
	Upstreams []*upstreamBody `hcl:"upstream,block"`
	Plugins   []*pluginBody   `hcl:"plugin,block"`
	Routes    []*routeBody    `hcl:"route,block"`
	Limits    []*limitsBody   `hcl:"limits,block"`
	Admins    []*adminBody    `hcl:"admin,block"`
}

type listenerBody struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`

	Address      *string   `hcl:"address,optional"`
	AddressRange hcl.Range `hcl:"address,attr_value_range"`
	ReusePort    *bool     `hcl:"reuse_port,optional"`
	Console      *bool     `hcl:"console,optional"`

	TLS []*listenerTLSBody `hcl:"tls,block"`
}

type listenerTLSBody struct {
	DefRange hcl.Range `hcl:",def_range"`
	Body     hcl.Body  `hcl:",body"`

	CertFile          *string   `hcl:"cert_file,optional"`
	CertFileRange     hcl.Range `hcl:"cert_file,attr_value_range"`
	KeyFile           *string   `hcl:"key_file,optional"`
	KeyFileRange      hcl.Range `hcl:"key_file,attr_value_range"`
	ClientCAFile      *string   `hcl:"client_ca_file,optional"`
	ClientCAFileRange hcl.Range `hcl:"client_ca_file,attr_value_range"`
	ClientAuth        *string   `hcl:"client_auth,optional"`
	ClientAuthRange   hcl.Range `hcl:"client_auth,attr_value_range"`
	MinVersion        *string   `hcl:"min_version,optional"`
	MinVersionRange   hcl.Range `hcl:"min_version,attr_value_range"`
	CipherSuites      []string  `hcl:"cipher_suites,optional"`
	CipherSuitesRange hcl.Range `hcl:"cipher_suites,attr_value_range"`
}

type upstreamBody struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`
	Body      hcl.Body  `hcl:",body"`

	Servers               []string  `hcl:"servers,optional"`
	ServersRange          hcl.Range `hcl:"servers,attr_value_range"`
	ConnectTimeout        *string   `hcl:"connect_timeout,optional"`
	ConnectTimeoutRange   hcl.Range `hcl:"connect_timeout,attr_value_range"`
	HandshakeTimeout      *string   `hcl:"handshake_timeout,optional"`
	HandshakeTimeoutRange hcl.Range `hcl:"handshake_timeout,attr_value_range"`

	TLS []*upstreamTLSBody `hcl:"tls,block"`
}

type upstreamTLSBody struct {
	DefRange hcl.Range `hcl:",def_range"`
	Body     hcl.Body  `hcl:",body"`

	CAFile                  *string   `hcl:"ca_file,optional"`
	CAFileRange             hcl.Range `hcl:"ca_file,attr_value_range"`
	InsecureSkipVerify      *bool     `hcl:"insecure_skip_verify,optional"`
	InsecureSkipVerifyRange hcl.Range `hcl:"insecure_skip_verify,attr_value_range"`
	ServerName              *string   `hcl:"server_name,optional"`
	ServerNameRange         hcl.Range `hcl:"server_name,attr_value_range"`
	CertFile                *string   `hcl:"cert_file,optional"`
	CertFileRange           hcl.Range `hcl:"cert_file,attr_value_range"`
	KeyFile                 *string   `hcl:"key_file,optional"`
	KeyFileRange            hcl.Range `hcl:"key_file,attr_value_range"`
	MinVersion              *string   `hcl:"min_version,optional"`
	MinVersionRange         hcl.Range `hcl:"min_version,attr_value_range"`
	CipherSuites            []string  `hcl:"cipher_suites,optional"`
	CipherSuitesRange       hcl.Range `hcl:"cipher_suites,attr_value_range"`
}

type routeBody struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`
	Body      hcl.Body  `hcl:",body"`

	Listener            *string           `hcl:"listener,optional"`
	ListenerRange       hcl.Range         `hcl:"listener,attr_value_range"`
	Host                *string           `hcl:"host,optional"`
	HostRange           hcl.Range         `hcl:"host,attr_value_range"`
	Path                *string           `hcl:"path,optional"`
	PathRange           hcl.Range         `hcl:"path,attr_value_range"`
	ExactPath           *string           `hcl:"exact_path,optional"`
	ExactPathRange      hcl.Range         `hcl:"exact_path,attr_value_range"`
	Headers             map[string]string `hcl:"headers,optional"`
	HeadersRange        hcl.Range         `hcl:"headers,attr_value_range"`
	Upstream            *string           `hcl:"upstream,optional"`
	UpstreamRange       hcl.Range         `hcl:"upstream,attr_value_range"`
	Origins             []string          `hcl:"origins,optional"`
	OriginsRange        hcl.Range         `hcl:"origins,attr_value_range"`
	ForwardHeaders      []string          `hcl:"forward_headers,optional"`
	ForwardHeadersRange hcl.Range         `hcl:"forward_headers,attr_value_range"`
	DropHeaders         []string          `hcl:"drop_headers,optional"`
	DropHeadersRange    hcl.Range         `hcl:"drop_headers,attr_value_range"`
	Filters             []string          `hcl:"filters,optional"`
	FiltersRange        hcl.Range         `hcl:"filters,attr_value_range"`
	RequireTLS          *bool             `hcl:"require_tls,optional"`

	Compression                     *bool     `hcl:"compression,optional"`
	CompressionRange                hcl.Range `hcl:"compression,attr_value_range"`
	CompressionThreshold            *string   `hcl:"compression_threshold,optional"`
	CompressionThresholdRange       hcl.Range `hcl:"compression_threshold,attr_value_range"`
	CompressionWindowBits           *float64  `hcl:"compression_window_bits,optional"`
	CompressionWindowBitsRange      hcl.Range `hcl:"compression_window_bits,attr_value_range"`
	CompressionContextTakeover      *bool     `hcl:"compression_context_takeover,optional"`
	CompressionContextTakeoverRange hcl.Range `hcl:"compression_context_takeover,attr_value_range"`

	Limits []*limitsBody `hcl:"limits,block"`
}

type limitsBody struct {
	DefRange hcl.Range `hcl:",def_range"`

	MaxMessageSize      *string   `hcl:"max_message_size,optional"`
	MaxMessageSizeRange hcl.Range `hcl:"max_message_size,attr_value_range"`
	MaxFrameSize        *string   `hcl:"max_frame_size,optional"`
	MaxFrameSizeRange   hcl.Range `hcl:"max_frame_size,attr_value_range"`

	ClientMaxMessageSize        *string   `hcl:"client_max_message_size,optional"`
	ClientMaxMessageSizeRange   hcl.Range `hcl:"client_max_message_size,attr_value_range"`
	ClientMaxFrameSize          *string   `hcl:"client_max_frame_size,optional"`
	ClientMaxFrameSizeRange     hcl.Range `hcl:"client_max_frame_size,attr_value_range"`
	UpstreamMaxMessageSize      *string   `hcl:"upstream_max_message_size,optional"`
	UpstreamMaxMessageSizeRange hcl.Range `hcl:"upstream_max_message_size,attr_value_range"`
	UpstreamMaxFrameSize        *string   `hcl:"upstream_max_frame_size,optional"`
	UpstreamMaxFrameSizeRange   hcl.Range `hcl:"upstream_max_frame_size,attr_value_range"`

	HandshakeTimeout      *string   `hcl:"handshake_timeout,optional"`
	HandshakeTimeoutRange hcl.Range `hcl:"handshake_timeout,attr_value_range"`
	MaxHeaderSize         *string   `hcl:"max_header_size,optional"`
	MaxHeaderSizeRange    hcl.Range `hcl:"max_header_size,attr_value_range"`
	IdleTimeout           *string   `hcl:"idle_timeout,optional"`
	IdleTimeoutRange      hcl.Range `hcl:"idle_timeout,attr_value_range"`
	PingInterval          *string   `hcl:"ping_interval,optional"`
	PingIntervalRange     hcl.Range `hcl:"ping_interval,attr_value_range"`
	PongTimeout           *string   `hcl:"pong_timeout,optional"`
	PongTimeoutRange      hcl.Range `hcl:"pong_timeout,attr_value_range"`
	CloseTimeout          *string   `hcl:"close_timeout,optional"`
	CloseTimeoutRange     hcl.Range `hcl:"close_timeout,attr_value_range"`
	WriteTimeout          *string   `hcl:"write_timeout,optional"`
	WriteTimeoutRange     hcl.Range `hcl:"write_timeout,attr_value_range"`

	// The connection caps and message_burst are whole numbers, but decoded
	// as any number so that the loader, not gohcl, reports a fraction,
	// with a message that says what the number means.
	MaxConnections           *float64  `hcl:"max_connections,optional"`
	MaxConnectionsRange      hcl.Range `hcl:"max_connections,attr_value_range"`
	MaxConnectionsPerIP      *float64  `hcl:"max_connections_per_ip,optional"`
	MaxConnectionsPerIPRange hcl.Range `hcl:"max_connections_per_ip,attr_value_range"`
	MaxMessageRate           *float64  `hcl:"max_message_rate,optional"`
	MaxMessageRateRange      hcl.Range `hcl:"max_message_rate,attr_value_range"`
	MessageBurst             *float64  `hcl:"message_burst,optional"`
	MessageBurstRange        hcl.Range `hcl:"message_burst,attr_value_range"`
}

// pluginBody decodes config as an expression: it takes any value, which
// the loader evaluates and converts to JSON itself.
type pluginBody struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`

	Wasm             *string        `hcl:"wasm,optional"`
	WasmRange        hcl.Range      `hcl:"wasm,attr_value_range"`
	Config           hcl.Expression `hcl:"config,optional"`
	ConfigRange      hcl.Range      `hcl:"config,attr_value_range"`
	Instances        *int           `hcl:"instances,optional"`
	InstancesRange   hcl.Range      `hcl:"instances,attr_value_range"`
	MemoryLimit      *string        `hcl:"memory_limit,optional"`
	MemoryLimitRange hcl.Range      `hcl:"memory_limit,attr_value_range"`
	Timeout          *string        `hcl:"timeout,optional"`
	TimeoutRange     hcl.Range      `hcl:"timeout,attr_value_range"`
	OnError          *string        `hcl:"on_error,optional"`
	OnErrorRange     hcl.Range      `hcl:"on_error,attr_value_range"`
	Sandbox          *string        `hcl:"sandbox,optional"`
	SandboxRange     hcl.Range      `hcl:"sandbox,attr_value_range"`
	KVNamespace      *string        `hcl:"kv_namespace,optional"`
	KVNamespaceRange hcl.Range      `hcl:"kv_namespace,attr_value_range"`
	CacheDir         *string        `hcl:"cache_dir,optional"`
	CacheDirRange    hcl.Range      `hcl:"cache_dir,attr_value_range"`
	Reload           *string        `hcl:"reload,optional"`
	ReloadRange      hcl.Range      `hcl:"reload,attr_value_range"`
}

type adminBody struct {
	DefRange hcl.Range `hcl:",def_range"`

	Address      *string   `hcl:"address,optional"`
	AddressRange hcl.Range `hcl:"address,attr_value_range"`
	Pprof        *bool     `hcl:"pprof,optional"`
}

// schemaAt returns a description and the schema of the body reached by a
// path of nested block types ("" is the top level, "route.limits" the
// limits block of a route). ok is false for a path outside the schema.
func schemaAt(path string) (where string, schema *hcl.BodySchema, ok bool) {
	var v any
	switch path {
	case "":
		where, v = "at the top level of a file", &fileBody{}
	case "listener":
		where, v = "in a listener block", &listenerBody{}
	case "listener.tls":
		where, v = "in the tls block of a listener", &listenerTLSBody{}
	case "upstream":
		where, v = "in an upstream block", &upstreamBody{}
	case "upstream.tls":
		where, v = "in the tls block of an upstream", &upstreamTLSBody{}
	case "plugin":
		where, v = "in a plugin block", &pluginBody{}
	case "route":
		where, v = "in a route block", &routeBody{}
	case "route.limits":
		where, v = "in the limits block of a route", &limitsBody{}
	case "limits":
		where, v = "in the limits block", &limitsBody{}
	case "admin":
		where, v = "in the admin block", &adminBody{}
	default:
		return "", nil, false
	}
	schema, _ = gohcl.ImpliedBodySchema(v)
	return where, schema, true
}

// locate returns the path of nested block types (as schemaAt takes it) of
// the innermost block whose body contains pos, and the name of the
// attribute of that body that contains pos, if any.
func locate(body *hclsyntax.Body, pos hcl.Pos) (path, attr string) {
	var types []string
	for {
		var inner *hclsyntax.Body
		for _, b := range body.Blocks {
			if b.Body != nil && b.Body.SrcRange.ContainsOffset(pos.Byte) {
				types = append(types, b.Type)
				inner = b.Body
				break
			}
		}
		if inner == nil {
			break
		}
		body = inner
	}
	for name, a := range body.Attributes {
		if a.SrcRange.ContainsOffset(pos.Byte) {
			attr = name
		}
	}
	return strings.Join(types, "."), attr
}

// explain appends to the detail of HCL's own diagnostics what the
// configuration allows instead: the arguments and blocks allowed where an
// unsupported one was written, the type an attribute takes where a value
// has the wrong type, and how blocks refer to each other where a variable
// was written.
func explain(diags hcl.Diagnostics, files map[string]*hcl.File) {
	for _, d := range diags {
		if d.Subject == nil {
			continue
		}
		var body *hclsyntax.Body
		if f := files[d.Subject.Filename]; f != nil {
			body, _ = f.Body.(*hclsyntax.Body)
		}
		if body == nil {
			continue
		}
		path, attr := locate(body, d.Subject.Start)
		switch d.Summary {
		case "Unsupported argument", "Unsupported block type":
			where, schema, ok := schemaAt(path)
			if !ok {
				continue
			}
			d.Detail += " " + allowedText(where, schema)
		case "Unsuitable value type":
			if attr != "" {
				d.Detail += ". The value of " + attr + " must be " + attrType(attr) + "."
			}
		case "Variables not allowed", "Unknown variable":
			d.Detail += ` Values are literals: a listener, upstream or plugin ` +
				`is named by a quoted string, as in upstream = "chat" or ` +
				`filters = ["auth"]; the functions env("NAME") and ` +
				`file("path") are available.`
		}
	}
}

// attrType describes the type of the value an attribute takes.
func attrType(name string) string {
	switch name {
	case "servers":
		return `a list of strings, e.g. ["ws://127.0.0.1:9000"]`
	case "origins":
		return `a list of strings, e.g. ["https://chat.example.com"]`
	case "forward_headers", "drop_headers":
		return `a list of strings, e.g. ["Cookie", "Authorization"]`
	case "filters":
		return `a list of plugin names, e.g. ["auth", "log"]`
	case "cipher_suites":
		return `a list of cipher suite names, e.g. ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]`
	case "min_version":
		return `a string, "1.2" or "1.3"`
	case "client_auth":
		return `a string, "require", "optional" or "none"`
	case "instances":
		return "a whole number, e.g. 4"
	case "compression_window_bits":
		return "a whole number from 8 to 15, e.g. 15"
	case "max_connections":
		return "a whole number, e.g. 10000, or 0 for no cap"
	case "max_connections_per_ip":
		return "a whole number, e.g. 100, or 0 for no cap"
	case "max_message_rate":
		return "a number of messages per second, e.g. 50 or 0.5, or 0 for no limit"
	case "message_burst":
		return "a whole number of messages, at least 1, e.g. 100"
	case "headers":
		return `an object of header names and string values, e.g. { "X-Tenant" = "acme" }`
	case "insecure_skip_verify", "reuse_port", "console", "pprof", "require_tls", "compression", "compression_context_takeover":
		return "true or false"
	case "max_message_size", "max_frame_size", "client_max_message_size", "client_max_frame_size",
		"upstream_max_message_size", "upstream_max_frame_size", "max_header_size", "memory_limit",
		"compression_threshold":
		return `a string holding a size, e.g. "1MiB"`
	case "connect_timeout", "handshake_timeout", "idle_timeout", "ping_interval",
		"pong_timeout", "close_timeout", "write_timeout", "timeout":
		return `a string holding a duration, e.g. "30s"`
	}
	return "a string"
}

// allowedText says which arguments and blocks schema allows.
func allowedText(where string, schema *hcl.BodySchema) string {
	var attrs, blocks []string
	for _, a := range schema.Attributes {
		attrs = append(attrs, a.Name)
	}
	for _, b := range schema.Blocks {
		blocks = append(blocks, b.Type)
	}
	where = strings.ToUpper(where[:1]) + where[1:]
	allowedAttrs := "no arguments are allowed"
	if len(attrs) > 0 {
		allowedAttrs = "the allowed arguments are " + strings.Join(attrs, ", ")
	}
	if len(blocks) == 0 {
		return fmt.Sprintf("%s, %s.", where, allowedAttrs)
	}
	return fmt.Sprintf("%s, %s; the allowed blocks are %s.", where, allowedAttrs, strings.Join(blocks, ", "))
}
