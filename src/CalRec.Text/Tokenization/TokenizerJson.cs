using System.Text.Json;

namespace CalRec.Text.Tokenization;

public sealed partial class ByteLevelBpeTokenizer
{
    /// <summary>
    /// Loads a Hugging Face <c>tokenizer.json</c> whose model is byte-level BPE: a ByteLevel pre-tokenizer, or a
    /// Sequence of a Split regex and ByteLevel (Llama 3, Qwen2); merges as "a b" strings or [a, b] pairs; added tokens;
    /// optional NFC normalizer. Anything else is a clear <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static ByteLevelBpeTokenizer FromFile(string path)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"{path}: cannot read tokenizer ({ex.Message}).", ex);
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            return FromJson(doc.RootElement, path);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex);
        }
    }

    private static ByteLevelBpeTokenizer FromJson(JsonElement root, string path)
    {
        InvalidDataException Bad(string what) => new($"{path}: {what}.");
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
        {
            throw Bad("no \"model\" object");
        }

        string type = model.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (type != "BPE")
        {
            throw Bad($"tokenizer model type '{type}' is not supported (only byte-level BPE)");
        }

        if (model.TryGetProperty("byte_fallback", out JsonElement bf) && bf.ValueKind == JsonValueKind.True)
        {
            throw Bad("BPE with byte_fallback (SentencePiece style) is not supported (only byte-level BPE)");
        }

        if (!model.TryGetProperty("vocab", out JsonElement vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
        {
            throw Bad("model has no \"vocab\" object");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty p in vocabEl.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
            {
                throw Bad($"vocab entry '{p.Name}' has no valid id");
            }

            vocab[p.Name] = id;
        }

        var merges = new List<(string, string)>();
        if (model.TryGetProperty("merges", out JsonElement mergesEl))
        {
            int i = 0;
            foreach (JsonElement m in mergesEl.EnumerateArray())
            {
                if (m.ValueKind == JsonValueKind.String)
                {
                    string s = m.GetString()!;
                    int sp = s.IndexOf(' ', 1);
                    if (sp <= 0 || sp == s.Length - 1)
                    {
                        throw Bad($"merge {i} \"{s}\" is not of the form \"a b\"");
                    }

                    merges.Add((s[..sp], s[(sp + 1)..]));
                }
                else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
                {
                    merges.Add((m[0].GetString() ?? throw Bad($"merge {i} has a null part"), m[1].GetString() ?? throw Bad($"merge {i} has a null part")));
                }
                else
                {
                    throw Bad($"merge {i} is neither \"a b\" nor [a, b]");
                }

                i++;
            }
        }

        bool ignoreMerges = model.TryGetProperty("ignore_merges", out JsonElement im) && im.ValueKind == JsonValueKind.True;
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement a in addedEl.EnumerateArray())
            {
                string content = a.GetProperty("content").GetString() ?? throw Bad("added token without content");
                int id = a.GetProperty("id").GetInt32();
                bool special = a.TryGetProperty("special", out JsonElement sp) && sp.ValueKind == JsonValueKind.True;
                added.Add(new AddedToken(content, id, special));
            }
        }

        string pattern = ReadPreTokenizer(root, Bad);
        string? normalizer = null;
        if (root.TryGetProperty("normalizer", out JsonElement norm) && norm.ValueKind == JsonValueKind.Object)
        {
            string ntype = norm.GetProperty("type").GetString() ?? string.Empty;
            if (ntype != "NFC")
            {
                throw Bad($"normalizer '{ntype}' is not supported (only none or NFC)");
            }

            normalizer = "NFC";
        }

        try
        {
            return new ByteLevelBpeTokenizer(vocab, merges, added, new PatternPreTokenizer(pattern), ignoreMerges, normalizer);
        }
        catch (InvalidDataException ex)
        {
            throw Bad(ex.Message.TrimEnd('.'));
        }
    }

    private static string ReadPreTokenizer(JsonElement root, Func<string, InvalidDataException> bad)
    {
        if (!root.TryGetProperty("pre_tokenizer", out JsonElement pre) || pre.ValueKind != JsonValueKind.Object)
        {
            throw bad("no pre_tokenizer: only byte-level BPE tokenizers are supported");
        }

        string type = pre.GetProperty("type").GetString() ?? string.Empty;
        if (type == "ByteLevel")
        {
            if (pre.TryGetProperty("add_prefix_space", out JsonElement aps) && aps.ValueKind == JsonValueKind.True)
            {
                throw bad("ByteLevel with add_prefix_space=true is not supported");
            }

            return PatternPreTokenizer.Gpt2Pattern;
        }

        if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out JsonElement list))
        {
            string? pattern = null;
            bool byteLevel = false;
            foreach (JsonElement p in list.EnumerateArray())
            {
                string pt = p.GetProperty("type").GetString() ?? string.Empty;
                if (pt == "Split" && p.TryGetProperty("pattern", out JsonElement pat) && pat.TryGetProperty("Regex", out JsonElement rx))
                {
                    pattern = rx.GetString();
                }
                else if (pt == "ByteLevel")
                {
                    byteLevel = true;
                }
                else
                {
                    throw bad($"pre-tokenizer '{pt}' inside Sequence is not supported");
                }
            }

            if (byteLevel && pattern is not null)
            {
                return pattern;
            }
        }

        throw bad($"pre-tokenizer '{type}' is not supported (ByteLevel, or Sequence of Split and ByteLevel)");
    }

    /// <summary>Writes a Hugging Face <c>tokenizer.json</c> (atomically: a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string tmp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew))
            using (var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                WriteJson(w);
            }

            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    private void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (AddedToken a in _added.OrderBy(static a => a.Id))
        {
            w.WriteStartObject();
            w.WriteNumber("id", a.Id);
            w.WriteString("content", a.Content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", a.Special);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (Normalizer is null)
        {
            w.WriteNull("normalizer");
        }
        else
        {
            w.WriteStartObject("normalizer");
            w.WriteString("type", Normalizer);
            w.WriteEndObject();
        }

        if (_preTokenizer.Pattern == PatternPreTokenizer.Gpt2Pattern)
        {
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
        }
        else
        {
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", _preTokenizer.Pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", false);
            w.WriteBoolean("use_regex", false);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteNull("post_processor");
        w.WriteStartObject("decoder");
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", true);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", IgnoreMerges);
        w.WriteStartObject("vocab");
        foreach ((string tok, int id) in _vocab.OrderBy(static kv => kv.Value))
        {
            w.WriteNumber(tok, id);
        }

        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach ((string l, string r) in _mergeList)
        {
            w.WriteStringValue(l + " " + r);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
