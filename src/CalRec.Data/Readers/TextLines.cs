using System.IO.Compression;
using System.Text;

namespace CalRec.Data.Readers;

/// <summary>
/// Streams the non-empty lines of a text file with 1-based line numbers. <c>.gz</c> files are decompressed on the fly;
/// bytes that are not valid in the expected encoding raise a <see cref="DataFormatException"/> naming the line, or,
/// when the caller passes <c>undecodable</c>, are handed to it (line, problem) and the line is skipped.
/// </summary>
internal static class TextLines
{
    /// <summary>Strict UTF-8 without a byte-order mark.</summary>
    public static Encoding Utf8 { get; } = new UTF8Encoding(false, throwOnInvalidBytes: true);

    public static IEnumerable<(long Line, string Text)> Read(string path, Encoding? encoding = null, Action<long, string>? undecodable = null)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: file not found.", path);
        }

        encoding ??= Utf8;
        using Stream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        // Lines are split on bytes and decoded one by one, so a decoding error names its own line (a StreamReader
        // decodes whole buffers ahead of the line being read).
        byte[] buffer = new byte[1 << 16];
        byte[] pending = new byte[256];
        int pendingLength = 0;
        long line = 1;
        bool first = true;
        while (true)
        {
            int read;
            try
            {
                read = stream.Read(buffer, 0, buffer.Length);
            }
            catch (InvalidDataException ex)
            {
                throw new DataFormatException(path, line, "(line)", $"corrupt gzip data ({ex.Message})");
            }

            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }

                Append(ref pending, ref pendingLength, buffer.AsSpan(start, i - start));
                if (Decode(pending.AsSpan(0, pendingLength), encoding, path, line, ref first, undecodable) is { Length: > 0 } text)
                {
                    yield return (line, text);
                }

                pendingLength = 0;
                start = i + 1;
                line++;
            }

            if (read == 0)
            {
                if (pendingLength > 0 && Decode(pending.AsSpan(0, pendingLength), encoding, path, line, ref first, undecodable) is { Length: > 0 } last)
                {
                    yield return (line, last);
                }

                yield break;
            }

            Append(ref pending, ref pendingLength, buffer.AsSpan(start, read - start));
        }
    }

    private static void Append(ref byte[] pending, ref int length, ReadOnlySpan<byte> bytes)
    {
        if (length + bytes.Length > pending.Length)
        {
            Array.Resize(ref pending, Math.Max(pending.Length * 2, length + bytes.Length));
        }

        bytes.CopyTo(pending.AsSpan(length));
        length += bytes.Length;
    }

    private static string? Decode(ReadOnlySpan<byte> bytes, Encoding encoding, string path, long line, ref bool first, Action<long, string>? undecodable)
    {
        if (first)
        {
            first = false;
            if (bytes.StartsWith("\uFEFF"u8) && encoding.CodePage == Encoding.UTF8.CodePage)
            {
                bytes = bytes[3..];
            }
        }

        if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }

        try
        {
            return encoding.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            string problem = $"not valid {encoding.WebName.ToUpperInvariant()} ({ex.Message})";
            if (undecodable is null)
            {
                throw new DataFormatException(path, line, "(line)", problem);
            }

            // The caller's bad-record policy decides: it throws, or the line is skipped.
            undecodable(line, problem);
            return null;
        }
    }
}
