using System.Text;
using CalRec.Text.Tokenization;
using FsCheck;
using FsCheck.Fluent;

namespace CalRec.Text.Tests;

[TestFixture]
public class BpeTokenizerTests
{
    private static readonly string[] Corpus =
    [
        "title: Hydrating Face Cream; brand: Aveeno; category: Skin Care",
        "title: Gentle Foaming Cleanser; brand: CeraVe; category: Skin Care",
        "title: Matte Lipstick, Ruby Red; brand: Maybelline; category: Makeup",
        "the user bought a face cream, then a cleanser, then a lipstick 💄 — très chic!",
        "Numbers 12345 and 3.14, contractions don't won't it's we've.",
    ];

    private static ByteLevelBpeTokenizer s_trained = null!;

    [OneTimeSetUp]
    public void Train() => s_trained = ByteLevelBpeTokenizer.Train(Enumerable.Repeat(Corpus, 20).SelectMany(x => x),
        new BpeTrainerOptions { VocabularySize = 400, SpecialTokens = ["<|endoftext|>", "<|item|>"] });

    [Test]
    public void TrainingLearnsMergesThatShortenFrequentText()
    {
        Assert.That(s_trained.VocabularySize, Is.EqualTo(400));
        Assert.That(s_trained.Merges, Has.Count.EqualTo(400 - 258));
        string text = "title: Hydrating Face Cream; brand: Aveeno";
        Assert.That(s_trained.CountTokens(text), Is.LessThan(Encoding.UTF8.GetByteCount(text) / 3));
        Assert.That(s_trained.TokenToId("<|item|>"), Is.EqualTo(1));
    }

    [Test]
    public void TrainingIsDeterministic()
    {
        var again = ByteLevelBpeTokenizer.Train(Enumerable.Repeat(Corpus, 20).SelectMany(x => x),
            new BpeTrainerOptions { VocabularySize = 400, SpecialTokens = ["<|endoftext|>", "<|item|>"] });
        Assert.That(again.Merges, Is.EqualTo(s_trained.Merges));
    }

    [Test]
    public void MinFrequencyStopsTraining()
    {
        var t = ByteLevelBpeTokenizer.Train(["abc abd"], new BpeTrainerOptions { VocabularySize = 1000, MinFrequency = 2 });
        Assert.That(t.Merges, Is.EqualTo(new[] { ("a", "b") }), "only 'ab' occurs twice");
    }

    [Test]
    public void SpecialTokensAreMatchedLiterally()
    {
        IReadOnlyList<int> ids = s_trained.EncodeToIds("face cream<|item|>lipstick<|endoftext|>");
        Assert.That(ids, Does.Contain(1).And.Contain(0));
        Assert.That(s_trained.Decode(ids), Is.EqualTo("face cream<|item|>lipstick<|endoftext|>"));
        Assert.That(s_trained.Decode(ids, skipSpecialTokens: true), Is.EqualTo("face creamlipstick"));
    }

    [TestCase("")]
    [TestCase("plain ascii")]
    [TestCase("emoji 👩‍👩‍👧‍👦 and flags 🇯🇵, CJK 日本語, RTL עברית, combining é")]
    [TestCase("  leading and trailing spaces \t\n\r\n  ")]
    [TestCase("\0control\u0001chars\u007f")]
    public void RoundTripsExamples(string text) => Assert.That(s_trained.Decode(s_trained.EncodeToIds(text)), Is.EqualTo(text));

    [Test]
    public void RoundTripsAnyWellFormedString()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), s =>
        {
            string text = s ?? string.Empty;
            bool wellFormed = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)) == text;
            return !wellFormed || s_trained.Decode(s_trained.EncodeToIds(text)) == text;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void LoneSurrogatesBecomeReplacementCharacter()
    {
        Assert.That(s_trained.Decode(s_trained.EncodeToIds("a\uD800b")), Is.EqualTo("a\uFFFDb"));
        Assert.That(s_trained.Decode(s_trained.EncodeToIds("\uDC00")), Is.EqualTo("\uFFFD"));
    }

    [Test]
    public void DecodingHalfACharacterGivesReplacement()
    {
        IReadOnlyList<int> ids = s_trained.EncodeToIds("€");
        var bytes = ids.SelectMany(id => s_trained.IdToToken(id)!).ToList();
        Assert.That(bytes, Has.Count.EqualTo(3), "€ is three UTF-8 bytes");
        if (ids.Count == 1)
        {
            Assert.Pass("€ merged into one token in this vocabulary");
        }

        Assert.That(s_trained.Decode(ids.Take(1)), Does.Contain("\uFFFD"));
    }

    [Test]
    public void GeneratedRegexMatchesGpt2Splits()
    {
        var pre = new PatternPreTokenizer();
        Assert.That(pre.Split("Hello world's 123  ok!!\n"), Is.EqualTo(new[] { "Hello", " world", "'s", " 123", " ", " ok", "!!", "\n" }));
    }

    [Test]
    public void TokenizerJsonRoundTrip()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tok-{Guid.NewGuid():N}.json");
        try
        {
            s_trained.Save(path);
            ByteLevelBpeTokenizer loaded = ByteLevelBpeTokenizer.FromFile(path);
            Assert.That(loaded.VocabularySize, Is.EqualTo(s_trained.VocabularySize));
            Assert.That(loaded.Merges, Is.EqualTo(s_trained.Merges));
            Assert.That(loaded.AddedTokens.Select(a => (a.Content, a.Id)), Is.EquivalentTo(s_trained.AddedTokens.Select(a => (a.Content, a.Id))));
            foreach (string line in Corpus)
            {
                Assert.That(loaded.EncodeToIds(line), Is.EqualTo(s_trained.EncodeToIds(line)));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void MergesAsStringsOrPairsLoadTheSame()
    {
        string vocab = """{"a":0,"b":1,"c":2,"ab":3,"abc":4,"Ġ":5}""";
        string Json(string merges) => $$$"""
            {"version":"1.0","added_tokens":[],"normalizer":null,
             "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
             "decoder":{"type":"ByteLevel"},
             "model":{"type":"BPE","vocab":{{{vocab}}},"merges":{{{merges}}}}}
            """;
        string dir = Path.Combine(Path.GetTempPath(), $"tokm-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "s.json"), Json("""["a b","ab c"]"""));
            File.WriteAllText(Path.Combine(dir, "p.json"), Json("""[["a","b"],["ab","c"]]"""));
            ByteLevelBpeTokenizer s = ByteLevelBpeTokenizer.FromFile(Path.Combine(dir, "s.json"));
            ByteLevelBpeTokenizer p = ByteLevelBpeTokenizer.FromFile(Path.Combine(dir, "p.json"));
            Assert.That(s.Merges, Is.EqualTo(p.Merges));
            Assert.That(s.EncodeToIds("abc"), Is.EqualTo(new[] { 4 }));
            Assert.That(p.EncodeToIds("ab"), Is.EqualTo(new[] { 3 }));
            var ex = Assert.Throws<InvalidDataException>(() => s.EncodeToIds("z"));
            Assert.That(ex!.Message, Does.Contain("0x7A"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestCase("""{"model":{"type":"WordPiece","vocab":{}}}""", "model type 'WordPiece' is not supported")]
    [TestCase("""{"model":{"type":"BPE","byte_fallback":true,"vocab":{}}}""", "byte_fallback")]
    [TestCase("""{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}""", "missing from the vocabulary")]
    [TestCase("""{"model":{"type":"BPE","vocab":{}},"pre_tokenizer":{"type":"Metaspace"}}""", "pre-tokenizer 'Metaspace' is not supported")]
    [TestCase("""{"model":""", "not valid JSON")]
    public void UnsupportedOrBrokenFilesAreClearErrors(string json, string expected)
    {
        string path = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => ByteLevelBpeTokenizer.FromFile(path));
            Assert.That(ex!.Message, Does.Contain(expected).And.Contain(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void BatchEncodingPadsAndTruncates()
    {
        BatchEncoding batch = s_trained.EncodeBatch(["face cream", "a much longer text about lipstick and cleanser"], maxLength: 5, padId: 0);
        Assert.That(batch.Length, Is.EqualTo(5));
        Assert.That(batch.Lengths[1], Is.EqualTo(5));
        int first = batch.Lengths[0];
        Assert.That(batch.AttentionMask.Take(5), Is.EqualTo(Enumerable.Range(0, 5).Select(i => i < first ? 1f : 0f)));
        Assert.That(batch.Ids.Skip(first).Take(5 - first), Is.All.EqualTo(0));
        BatchEncoding left = s_trained.EncodeBatch(["a much longer text about lipstick and cleanser"], 3, 0, truncateLeft: true);
        Assert.That(s_trained.Decode(left.Ids), Does.EndWith("cleanser"));
        Assert.That(s_trained.EncodeBatch(["x"], 8, 0, padToMax: true).Length, Is.EqualTo(8));
    }
}
