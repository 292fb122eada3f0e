package oauth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Environment variables holding the token encryption keys: 32 bytes, in
// base64 or hex, given directly or in a file.
const (
	EnvSecretKey        = "WEIR_SECRET_KEY"
	EnvSecretKeyFile    = "WEIR_SECRET_KEY_FILE"
	EnvSecretKeyOld     = "WEIR_SECRET_KEY_OLD"
	EnvSecretKeyOldFile = "WEIR_SECRET_KEY_OLD_FILE"
)

// KeySize is the size of a token encryption key (AES-256).
const KeySize = 32

// ErrNoKey matches the errors about a missing token encryption key.
var ErrNoKey = errors.New("no token encryption key")

// ErrKey matches the errors about a token that cannot be decrypted with
// the keys given: a key of another id, a wrong key or tampered data.
var ErrKey = errors.New("token encryption key mismatch")

// noKeyHelp says how to set a key.
const noKeyHelp = "set " + EnvSecretKey + " (32 random bytes in base64 or hex, e.g. the output of \"openssl rand -base64 32\") or " +
	EnvSecretKeyFile + " (a file holding it)"

// Keyring holds the key that encrypts tokens and the older keys that can
// still decrypt them. Its String and GoString never show key material.
type Keyring struct {
	current *aeadKey
	old     []*aeadKey
}

type aeadKey struct {
	id   string
	aead cipher.AEAD
}

// NewKeyring returns a keyring encrypting with current (nil for none)
// and also decrypting with old. Every key must be KeySize bytes.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	if current != nil {
		c, err := newAEADKey(current)
		if err != nil {
			return nil, err
		}
		k.current = c
	}
	for _, o := range old {
		ok, err := newAEADKey(o)
		if err != nil {
			return nil, fmt.Errorf("old key: %w", err)
		}
		k.old = append(k.old, ok)
	}
	return k, nil
}

func newAEADKey(key []byte) (*aeadKey, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("a token encryption key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &aeadKey{id: KeyID(key), aead: aead}, nil
}

// KeyID is the public identifier of a key: the first 12 hex digits of a
// SHA-256 of it, stored with each record to pick the key that opens it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("weir token key id\x00"), key...))
	return hex.EncodeToString(sum[:6])
}

// HasKey reports whether the keyring can encrypt.
func (k *Keyring) HasKey() bool { return k != nil && k.current != nil }

// CurrentID is the id of the encrypting key, "" when there is none.
func (k *Keyring) CurrentID() string {
	if !k.HasKey() {
		return ""
	}
	return k.current.id
}

// OldIDs are the ids of the keys that only decrypt.
func (k *Keyring) OldIDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.old))
	for i, o := range k.old {
		ids[i] = o.id
	}
	return ids
}

// String describes the keyring by key ids.
func (k *Keyring) String() string {
	if k == nil {
		return "oauth.Keyring(none)"
	}
	return fmt.Sprintf("oauth.Keyring(current %q, old %q)", k.CurrentID(), k.OldIDs())
}

// GoString is String, so that %#v shows no key material either.
func (k *Keyring) GoString() string { return k.String() }

// ParseKey decodes a key written in hex (64 digits) or base64 (standard or
// URL alphabet, padded or not); surrounding space is ignored.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("the key decodes to %d bytes; it must be %d (base64 or hex)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("the key is neither hex (%d digits) nor base64 of %d bytes", 2*KeySize, KeySize)
}

// LoadKeys reads the keys from the environment through getenv:
// EnvSecretKey or EnvSecretKeyFile for the current key, EnvSecretKeyOld or
// EnvSecretKeyOldFile for the previous one (during a rotation). A missing
// current key is not an error here (the keyring's HasKey is false); a
// malformed one is. A key file holds the key in hex or base64, or its 32
// raw bytes.
func LoadKeys(getenv func(string) string) (*Keyring, error) {
	cur, err := loadKey(getenv, EnvSecretKey, EnvSecretKeyFile)
	if err != nil {
		return nil, err
	}
	old, err := loadKey(getenv, EnvSecretKeyOld, EnvSecretKeyOldFile)
	if err != nil {
		return nil, err
	}
	var olds [][]byte
	if old != nil {
		olds = append(olds, old)
	}
	return NewKeyring(cur, olds...)
}

func loadKey(getenv func(string) string, env, fileEnv string) ([]byte, error) {
	val, file := getenv(env), getenv(fileEnv)
	switch {
	case val != "" && file != "":
		return nil, fmt.Errorf("both %s and %s are set: set only one", env, fileEnv)
	case val != "":
		k, err := ParseKey(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env, err)
		}
		return k, nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileEnv, err)
		}
		if len(data) == KeySize && !isText(data) {
			return data, nil
		}
		k, err := ParseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", fileEnv, file, err)
		}
		return k, nil
	}
	return nil, nil
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			if c != '\n' && c != '\r' && c != '\t' && c != ' ' {
				return false
			}
		}
	}
	return true
}

// envelope is an encrypted record as stored: the key id, the nonce and
// the AES-256-GCM ciphertext (with its tag).
type envelope struct {
	V     int    `json:"v"`
	KeyID string `json:"kid"`
	Nonce []byte `json:"nonce"`
	Data  []byte `json:"data"`
}

// aad binds a ciphertext to its connection and key id, so that a record
// copied to another connection's key does not open.
func aad(connection, kid string) []byte {
	return []byte("weir oauth tokens v1\x00" + kid + "\x00" + connection)
}

// seal encrypts plaintext for connection with the current key.
func (k *Keyring) seal(connection string, plaintext []byte) ([]byte, error) {
	if !k.HasKey() {
		return nil, fmt.Errorf("%w: %s", ErrNoKey, noKeyHelp)
	}
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := k.current.aead.Seal(nil, nonce, plaintext, aad(connection, k.current.id))
	return json.Marshal(envelope{V: 1, KeyID: k.current.id, Nonce: nonce, Data: ct})
}

// keyIDOf returns the key id of a stored record.
func keyIDOf(raw []byte) (string, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.V != 1 {
		return "", fmt.Errorf("%w: the stored record is not an encrypted token record", ErrKey)
	}
	return env.KeyID, nil
}

// open decrypts a stored record of connection with whichever key it names.
func (k *Keyring) open(connection string, raw []byte) ([]byte, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.V != 1 {
		return nil, fmt.Errorf("%w: the stored record is not an encrypted token record", ErrKey)
	}
	if k == nil || (k.current == nil && len(k.old) == 0) {
		return nil, fmt.Errorf("%w: the tokens are encrypted (key id %s): %s", ErrNoKey, env.KeyID, noKeyHelp)
	}
	var key *aeadKey
	for _, c := range append([]*aeadKey{k.current}, k.old...) {
		if c != nil && c.id == env.KeyID {
			key = c
			break
		}
	}
	if key == nil {
		return nil, fmt.Errorf("%w: the tokens were encrypted with key id %s, but %s has key id %s%s; "+
			"set the key they were stored with (or, after a rotation, give the old one in %s), or log in again",
			ErrKey, env.KeyID, EnvSecretKey, k.CurrentID(), oldIDsNote(k), EnvSecretKeyOld)
	}
	if len(env.Nonce) != key.aead.NonceSize() {
		return nil, fmt.Errorf("%w: the stored record is damaged", ErrKey)
	}
	pt, err := key.aead.Open(nil, env.Nonce, env.Data, aad(connection, env.KeyID))
	if err != nil {
		return nil, fmt.Errorf("%w: the tokens do not decrypt with key id %s: the record was altered or belongs to another connection", ErrKey, env.KeyID)
	}
	return pt, nil
}

func oldIDsNote(k *Keyring) string {
	if len(k.old) == 0 {
		return ""
	}
	return fmt.Sprintf(" and %s has key id %s", EnvSecretKeyOld, strings.Join(k.OldIDs(), ", "))
}

// sameBytes compares stored values; nil and empty differ (absent vs empty).
func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}
