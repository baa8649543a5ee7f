using System.Diagnostics;
using CalRec.Data;
using CalRec.Text.Tokenization;
using Microsoft.ML.Tokenizers;

namespace CalRec.MLNet.Tests;

public sealed class TokenizerTests
{
    private static (ByteLevelBpeTokenizer Ours, List<string> Titles) Trained()
    {
        InteractionDataset data = Tables.Synthetic(20);
        var titles = data.Items.Select(i => i.ToText()).Concat(["Crème brûlée — 50 ml, naïve café ☕ 🚀 x2", "tab\tand\nnewline  double  space", "it's we'll 12345"]).ToList();
        return (ByteLevelBpeTokenizer.Train(titles, new BpeTrainerOptions { VocabularySize = 400, MinFrequency = 1 }), titles);
    }

    [Test]
    public void OurTokenizerAsAnMLNetTokenizerGivesOurIdsWithOffsetsIntoTheText()
    {
        (ByteLevelBpeTokenizer ours, List<string> texts) = Trained();
        Tokenizer ml = new ByteLevelBpeMLTokenizer(ours);
        foreach (string text in texts)
        {
            IReadOnlyList<EncodedToken> tokens = ml.EncodeToTokens(text, out string? normalized);
            Assert.That(tokens.Select(t => t.Id), Is.EqualTo(ours.EncodeToIds(text)), text);
            Assert.That(ml.EncodeToIds(text), Is.EqualTo(ours.EncodeToIds(text)));
            Assert.That(ml.CountTokens(text), Is.EqualTo(tokens.Count));
            Assert.That(ml.Decode(ml.EncodeToIds(text)), Is.EqualTo(text));
            string source = normalized ?? text;
            // Offsets tile the text: each token's range follows the previous one (overlapping only inside a character).
            Assert.That(tokens[0].Offset.Start.Value, Is.Zero);
            Assert.That(tokens[^1].Offset.End.Value, Is.EqualTo(source.Length));
            for (int i = 1; i < tokens.Count; i++)
            {
                Assert.That(tokens[i].Offset.Start.Value, Is.InRange(tokens[i - 1].Offset.End.Value - 1, tokens[i - 1].Offset.End.Value), $"{text}: token {i}");
            }

            // Tokens of plain ASCII text decode to exactly the characters their offsets cover.
            if (text.All(char.IsAscii))
            {
                Assert.That(tokens.Select(t => ours.Decode([t.Id])), Is.EqualTo(tokens.Select(t => source[t.Offset])));
            }
        }

        // Truncation by token count (base class, on our offsets).
        string first = texts[0];
        IReadOnlyList<int> five = ml.EncodeToIds(first, maxTokenCount: 5, out string? _, out int consumed);
        Assert.That(five, Is.EqualTo(ours.EncodeToIds(first).Take(5)));
        Assert.That(ours.EncodeToIds(first[..consumed]), Is.EqualTo(five), "the consumed prefix encodes to the kept tokens");
    }

    [Test]
    public void MicrosoftsBpeTokenizerBuiltFromOurVocabularyGivesTheSameIds()
    {
        (ByteLevelBpeTokenizer ours, List<string> texts) = Trained();
        BpeTokenizer theirs = new ByteLevelBpeMLTokenizer(ours).ToBpeTokenizer();
        foreach (string text in texts)
        {
            Assert.That(theirs.EncodeToIds(text), Is.EqualTo(ours.EncodeToIds(text)), text);
        }
    }

    [Test]
    public void ParityAndThroughputOnTheAmazonBeautyTitles()
    {
        string items = Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../../../shared/data/amazon-beauty/items.tsv");
        if (!File.Exists(items))
        {
            Assert.Ignore($"../shared/data/amazon-beauty is not here ({items}): the parity check on real titles needs it.");
        }

        List<string> titles = Data.Readers.NormalizedDataset.ReadItems(items).Select(i => i.Title).Where(t => t.Length > 0).ToList();
        ByteLevelBpeTokenizer ours = ByteLevelBpeTokenizer.Train(titles, new BpeTrainerOptions { VocabularySize = 4096 });
        BpeTokenizer theirs = new ByteLevelBpeMLTokenizer(ours).ToBpeTokenizer();
        int differing = titles.Count(t => !theirs.EncodeToIds(t).SequenceEqual(ours.EncodeToIds(t)));
        Assert.That(differing, Is.Zero, $"{differing} of {titles.Count} titles encode differently");

        long bytes = titles.Sum(t => (long)System.Text.Encoding.UTF8.GetByteCount(t));
        double Speed(Func<string, IReadOnlyList<int>> encode)
        {
            foreach (string t in titles)
            {
                encode(t);
            }

            var sw = Stopwatch.StartNew();
            foreach (string t in titles)
            {
                encode(t);
            }

            return bytes / sw.Elapsed.TotalSeconds / 1e6;
        }

        TestContext.Out.WriteLine($"{titles.Count:N0} titles identical; warm throughput: ours {Speed(ours.EncodeToIds):F1} MB/s, Microsoft.ML.Tokenizers BpeTokenizer {Speed(t => theirs.EncodeToIds(t)):F1} MB/s (timed in docs/benchmarks.md by calrec bench tokenizer)");
    }
}
