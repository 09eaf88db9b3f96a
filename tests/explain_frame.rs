//! The `explain_frame` example, run as students run it: `cargo run --example explain_frame -- ...`.
//!
//! Examples get no `CARGO_BIN_EXE_*` variable, so each test asks cargo to build (if needed) and run
//! it; concurrent runs wait for each other on cargo's build lock.

use std::io::Write;
use std::process::{Command, Stdio};

/// What one run printed: exit code, standard output, standard error.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_prints(&self, expected: &str) {
        assert!(self.stdout.contains(expected), "expected {expected:?} in:\n{}", self.stdout);
    }
}

/// Runs the example with `args`, feeding `stdin` (or nothing) on standard input.
fn explain(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "explain_frame", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    child.stdin.take().expect("piped stdin").write_all(stdin.as_bytes()).expect("stdin written");
    let output = child.wait_with_output().expect("the example finishes");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 output"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 errors"),
    }
}

/// RFC 6455 §5.7: "A single-frame masked text message", "Hello" from a client.
const MASKED_HELLO: &str = "81 85 37 fa 21 3d 7f 9f 4d 51 58";

#[test]
fn server_explains_rfc_masked_hello_with_its_masking_key_and_text() {
    let run = explain(&[MASKED_HELLO], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.assert_prints("MASK = 1, as sent by a client"); // so the role is chosen:
    run.assert_prints("Reading 11 bytes as the server receives them.");
    run.assert_prints("bits 3-0    opcode = 0001 = text (0x1), a data frame");
    run.assert_prints("bytes 2-5     masking key 37 fa 21 3d");
    run.assert_prints("masked      7f 9f 4d 51 58");
    run.assert_prints("as text     \"Hello\"");
    run.assert_prints("1 frame, all valid.");
}

#[test]
fn client_explains_unmasked_hel_lo_as_two_frames_of_one_fragmented_message() {
    let run = explain(&["01 03 48 65 6c 80 02 6c 6f"], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_prints("as the client receives them");
    run.assert_prints("Frame 1, starting at input offset 0");
    run.assert_prints("fragment 1 of a fragmented text message, more follow");
    run.assert_prints("Frame 2, starting at input offset 5");
    run.assert_prints("opcode = 0000 = continuation (0x0)");
    run.assert_prints("Frames 1-2 are one fragmented text message");
    run.assert_prints("whole message \"Hello\"");
    run.assert_prints("2 frames, all valid.");
}

#[test]
fn client_explains_256_byte_binary_frame_with_16_bit_extended_length() {
    let payload: Vec<String> = (0..256).map(|i| format!("{i:02x}")).collect();
    let run = explain(&["82 7E 01 00", &payload.join(" ")], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_prints("payload len = 126  126: the length is in the next 2 bytes");
    run.assert_prints("bytes 2-3     16-bit extended length 01 00 = 256");
    run.assert_prints("bytes 4-259   payload, 256 bytes");
    run.assert_prints("a whole binary message in one frame");
}

#[test]
fn wireshark_hex_dump_with_offset_and_ascii_columns_is_parsed() {
    // Wireshark's "Copy as Hex + ASCII Dump" of a server's unmasked "Hello, WebSocket world!".
    let dump = "0000   81 17 48 65 6c 6c 6f 2c 20 57 65 62 53 6f 63 6b   ..Hello, WebSock\n\
                0010   65 74 20 77 6f 72 6c 64 21                        et world!\n";
    let run = explain(&[], dump);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.assert_prints("Reading 25 bytes");
    run.assert_prints("as text     \"Hello, WebSocket world!\"");
}

#[test]
fn other_copied_hex_formats_are_parsed_alike() {
    for input in [
        "818537fa213d7f9f4d5158",
        "0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58",
        "81:85:37:fa:21:3d:7f:9f:4d:51:58",
        "00000000  81 85 37 fa 21 3d 7f 9f  4d 51 58                 |..7.!=..MQX|",
    ] {
        let run = explain(&[], input);
        assert_eq!(run.code, 0, "{input}: {}{}", run.stdout, run.stderr);
        run.assert_prints("as text     \"Hello\"");
    }
}

#[test]
fn truncated_frame_exits_1_and_says_how_many_bytes_are_missing() {
    let run = explain(&["81 85 37 fa 21 3d 7f 9f"], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("only 2 of the 5 bytes announced");
    run.assert_prints("INCOMPLETE: the input ends before this frame does: 3 bytes missing.");

    let run = explain(&["81"], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("the header is cut short, at least 1 byte missing");
}

#[test]
fn reserved_opcode_exits_1_and_is_named_with_section_and_close_code() {
    let run = explain(&["83 80 00 00 00 00"], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("opcode = 0011 = reserved");
    run.assert_prints("PROBLEM: reserved opcode 0x3 (0x3-0x7 are reserved for data frames) (RFC 6455 §5.2)");
    run.assert_prints("close code 1002 (Protocol error)");
}

#[test]
fn server_rejects_unmasked_frame_and_suggests_client_role() {
    let run = explain(&["--server", "81 05 48 65 6c 6c 6f"], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("PROBLEM: unmasked frame sent by a client (RFC 6455 §5.1)");
    run.assert_prints("run again with --client");
}

#[test]
fn invalid_hex_exits_2_and_names_the_bad_digit() {
    let run = explain(&["81 8g"], "");
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("'g' in \"8g\" is not a hex digit"), "{}", run.stderr);

    let run = explain(&["--bogus"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// RFC 7692 §7.2.3.1: "Hello" compressed, in one unmasked frame with RSV1 (a server's message).
const COMPRESSED_HELLO: &str = "c1 07 f2 48 cd c9 c9 07 00";

#[test]
fn client_inflates_rfc7692_compressed_hello() {
    let run = explain(&["--inflate", COMPRESSED_HELLO], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.assert_prints("as the client receives them");
    run.assert_prints("RSV1 = 1, RSV2 = 0, RSV3 = 0  compressed (permessage-deflate)");
    run.assert_prints("data        f2 48 cd c9 c9 07 00");
    run.assert_prints("compressed  DEFLATE data (RFC 7692 §7.2.1)");
    run.assert_prints("=> a whole text message in one frame, compressed");
    run.assert_prints("inflated: 5 bytes from 7 bytes compressed (RFC 7692 §7.2.2)");
    run.assert_prints("data        48 65 6c 6c 6f");
    run.assert_prints("as text     \"Hello\"");
    run.assert_prints("1 frame, all valid.");
}

#[test]
fn client_shows_rsv1_as_compressed_with_rsv1_and_as_a_problem_without() {
    let run = explain(&["--rsv1", COMPRESSED_HELLO], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_prints("compressed (permessage-deflate)");
    run.assert_prints("not inflated");
    run.assert_prints("run again with --inflate");
    assert!(!run.stdout.contains("\"Hello\""), "{}", run.stdout);

    let run = explain(&[COMPRESSED_HELLO], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("RSV1 = 1, RSV2 = 0, RSV3 = 0  (for extensions)");
    run.assert_prints("PROBLEM: rsv1 set where no negotiated extension allows it (RFC 6455 §5.2)");
    run.assert_prints("run again with --rsv1, or --inflate");
}

#[test]
fn client_inflates_the_second_hello_with_the_context_of_the_first() {
    // RFC 7692 §7.2.3.2: with context takeover, the second "Hello" refers back to the first.
    let run = explain(&["--inflate", COMPRESSED_HELLO, "c1 05 f2 00 11 00 00"], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_prints("inflated: 5 bytes from 5 bytes compressed");
    assert_eq!(run.stdout.matches("as text     \"Hello\"").count(), 2, "{}", run.stdout);

    // Alone, it refers back to nothing: the message does not inflate (1007).
    let run = explain(&["--inflate", "c1 05 f2 00 11 00 00"], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("PROBLEM: compressed message that does not inflate (RFC 7692 §7.2.2)");
    run.assert_prints("close code 1007 (Invalid frame payload data)");
}

#[test]
fn client_inflates_a_compressed_message_across_its_fragments() {
    // The compressed "Hello" cut in two: RSV1 on the first frame only (RFC 7692 §6).
    let run = explain(&["--inflate", "41 02 f2 48 80 05 cd c9 c9 07 00"], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_prints("fragment 1 of a fragmented text message, more follow");
    run.assert_prints("RSV1 = 0, RSV2 = 0, RSV3 = 0  (the message's first frame says if it is compressed)");
    run.assert_prints("Frames 1-2 are one fragmented text message, compressed:");
    run.assert_prints("inflated: 5 bytes from 7 bytes compressed");
    run.assert_prints("as text     \"Hello\"");

    let run = explain(&["--inflate", "41 02 f2 48 c0 05 cd c9 c9 07 00"], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_prints("PROBLEM: RSV1 set on a continuation frame (RFC 7692 §6)");
    run.assert_prints("close code 1002 (Protocol error)");
}
