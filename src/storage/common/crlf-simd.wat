;; Line-end kernels for stored messages (RFC 9051 section 2.3.4: IMAP sizes and bytes use CRLF), 16 bytes at a time
;; with WebAssembly SIMD. Compiled by scripts/build-wasm.ts into crlf-simd-binary.ts; crlf-simd.ts drives them.
;;
;; The caller copies its bytes to `src` with the byte that came before them at src - 1 (0 at the start of a message)
;; and the byte that comes after them at src + len (0 at the end), so every byte has both neighbours in memory. A bare
;; LF is an LF whose predecessor is not a CR.
(module
  (memory (export "memory") 7)

  ;; The number of bare LFs in [src, src + len).
  (func (export "count_bare_lfs") (param $src i32) (param $len i32) (result i32)
    (local $i i32) (local $end i32) (local $last_block i32) (local $n i32)
    (local.set $i (local.get $src))
    (local.set $end (i32.add (local.get $src) (local.get $len)))
    (local.set $last_block (i32.sub (local.get $end) (i32.const 16)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.gt_s (local.get $i) (local.get $last_block)))
        ;; lanes holding an LF whose predecessor (the same lane one byte back) is not a CR
        (local.set $n
          (i32.add (local.get $n)
            (i32.popcnt
              (i8x16.bitmask
                (v128.andnot
                  (i8x16.eq (v128.load align=1 (local.get $i)) (i8x16.splat (i32.const 10)))
                  (i8x16.eq (v128.load align=1 (i32.sub (local.get $i) (i32.const 1))) (i8x16.splat (i32.const 13))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.and
              (i32.eq (i32.load8_u (local.get $i)) (i32.const 10))
              (i32.ne (i32.load8_u (i32.sub (local.get $i) (i32.const 1))) (i32.const 13)))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (local.get $n))

  ;; Copies [src, src + len) to dst with a CR put before every bare LF; answers the bytes written. Each block is stored
  ;; whole before its first bare LF is looked at, so up to 15 bytes past the answer may be overwritten.
  (func (export "lf_to_crlf") (param $src i32) (param $len i32) (param $dst i32) (result i32)
    (local $i i32) (local $o i32) (local $end i32) (local $last_block i32) (local $v v128) (local $bare i32) (local $k i32)
    (local.set $i (local.get $src))
    (local.set $o (local.get $dst))
    (local.set $end (i32.add (local.get $src) (local.get $len)))
    (local.set $last_block (i32.sub (local.get $end) (i32.const 16)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.gt_s (local.get $i) (local.get $last_block)))
        (local.set $v (v128.load align=1 (local.get $i)))
        (v128.store align=1 (local.get $o) (local.get $v))
        (local.set $bare
          (i8x16.bitmask
            (v128.andnot
              (i8x16.eq (local.get $v) (i8x16.splat (i32.const 10)))
              (i8x16.eq (v128.load align=1 (i32.sub (local.get $i) (i32.const 1))) (i8x16.splat (i32.const 13))))))
        (if (i32.eqz (local.get $bare))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $blocks)))
        ;; The bytes before the first bare LF are in place; CR LF follow them, and the next block starts after the LF.
        (local.set $k (i32.ctz (local.get $bare)))
        (local.set $o (i32.add (local.get $o) (local.get $k)))
        (i32.store16 align=1 (local.get $o) (i32.const 0x0a0d))
        (local.set $o (i32.add (local.get $o) (i32.const 2)))
        (local.set $i (i32.add (local.get $i) (i32.add (local.get $k) (i32.const 1))))
        (br $blocks)))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.and
              (i32.eq (i32.load8_u (local.get $i)) (i32.const 10))
              (i32.ne (i32.load8_u (i32.sub (local.get $i) (i32.const 1))) (i32.const 13)))
          (then
            (i32.store8 (local.get $o) (i32.const 13))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))))
        (i32.store8 (local.get $o) (i32.load8_u (local.get $i)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (i32.sub (local.get $o) (local.get $dst)))
  ;; Copies [src, src + len) to dst without the CR of each CR LF pair (saving: stores keep LF line ends); answers the
  ;; bytes written. As lf_to_crlf, up to 15 bytes past the answer may be overwritten.
  (func (export "crlf_to_lf") (param $src i32) (param $len i32) (param $dst i32) (result i32)
    (local $i i32) (local $o i32) (local $end i32) (local $last_block i32) (local $v v128) (local $drop i32) (local $k i32)
    (local.set $i (local.get $src))
    (local.set $o (local.get $dst))
    (local.set $end (i32.add (local.get $src) (local.get $len)))
    (local.set $last_block (i32.sub (local.get $end) (i32.const 16)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.gt_s (local.get $i) (local.get $last_block)))
        (local.set $v (v128.load align=1 (local.get $i)))
        (v128.store align=1 (local.get $o) (local.get $v))
        ;; lanes holding a CR whose successor (the same lane one byte on) is an LF
        (local.set $drop
          (i8x16.bitmask
            (v128.and
              (i8x16.eq (local.get $v) (i8x16.splat (i32.const 13)))
              (i8x16.eq (v128.load align=1 (i32.add (local.get $i) (i32.const 1))) (i8x16.splat (i32.const 10))))))
        (if (i32.eqz (local.get $drop))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $blocks)))
        ;; The bytes before the first such CR are in place; the next block starts at its LF.
        (local.set $k (i32.ctz (local.get $drop)))
        (local.set $o (i32.add (local.get $o) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.add (local.get $k) (i32.const 1))))
        (br $blocks)))
    (block $bytes_done
      (loop $bytes
        (br_if $bytes_done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.eqz
              (i32.and
                (i32.eq (i32.load8_u (local.get $i)) (i32.const 13))
                (i32.eq (i32.load8_u (i32.add (local.get $i) (i32.const 1))) (i32.const 10))))
          (then
            (i32.store8 (local.get $o) (i32.load8_u (local.get $i)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (i32.sub (local.get $o) (local.get $dst))))
