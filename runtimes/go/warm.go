// Compiled once at image build time to fill the build-cache seed with the standard packages
// most programs use (and the SDK); never part of a user's run.
package main

import (
	"bufio"
	"bytes"
	"container/heap"
	"container/list"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math"
	"math/big"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"sdk"
)

var (
	_ = bufio.NewReader
	_ = bytes.NewReader
	_ = heap.Init
	_ = list.New
	_ = context.Background
	_ = md5.Sum
	_ = sha256.Sum256
	_ = base64.StdEncoding
	_ = csv.NewReader
	_ = hex.EncodeToString
	_ = json.Marshal
	_ = errors.New
	_ = io.EOF
	_ = log.Println
	_ = maps.Keys[map[int]int]
	_ = math.Pi
	_ = big.NewInt
	_ = rand.Int
	_ = os.Exit
	_ = filepath.Join
	_ = regexp.MustCompile
	_ = slices.Sort[[]int]
	_ = sort.Ints
	_ = strconv.Itoa
	_ = strings.ToUpper
	_ = sync.Mutex{}
	_ = atomic.AddInt64
	_ = time.Now
	_ = unicode.IsUpper
	_ = utf8.RuneLen
	_ = sdk.SetMetadata
)

func main() { fmt.Println("warm") }
