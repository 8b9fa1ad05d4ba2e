#pragma once
/// @file output_file.hpp
/// Writing the files a user asked for (--json, --out) without ever destroying what they did
/// not ask to replace.
///
/// Contract:
///   - check_output_file / prepare_output_dir run before anything is measured: a destination
///     that cannot be written is a BadInput (exit 2) while nothing has been spawned yet.
///   - write_output_file writes a regular file (or a path that does not exist yet) atomically:
///     a temporary in the same directory, then rename(), so a reader sees the old file or the
///     new one, never a torn one. Where the user named the path (--json), a symlink to a regular
///     file replaces the file it points to and keeps the link; for the files the tool names
///     itself inside --out, a symlink is refused.
///   - Anything else is never renamed over: a FIFO or a character device (/dev/null, a tty, a
///     pipe behind /dev/stdout) is opened and written as a stream. A dangling symlink, a
///     directory, a socket or a block device is refused. (The tool sends --json /dev/stdout
///     and its aliases down the "-" path, so a redirected stdout is appended to, not reopened.)
///   - Every failure (open, short write, close, rename) throws std::runtime_error naming the
///     path; the temporary is removed.

#include <functional>
#include <string>
#include <string_view>

namespace ipcmatrix {

/// Throws BadInput (util/json_file.hpp) when `path` cannot take an output file. "-" is stdout.
void check_output_file(const std::string& path);
/// Creates `dir` (and parents) if missing and proves it writable by creating and removing a
/// probe file; throws BadInput naming the directory.
void prepare_output_dir(const std::string& dir);
/// A file's text a piece at a time: each call returns the next piece (valid until the next
/// call), an empty one at the end. A big file need not be in memory whole.
using TextPieces = std::function<std::string_view()>;

/// Writes `text` to `path` following the contract above. follow_symlink: the user named this
/// path (true) or the tool did (false).
void write_output_file(const std::string& path, std::string_view text, bool follow_symlink = false);
/// The same, written as `pieces` produces it.
void write_output_file(const std::string& path, const TextPieces& pieces, bool follow_symlink = false);

}  // namespace ipcmatrix
