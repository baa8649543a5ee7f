using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Recommenders.CalRec;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class PretrainingCorpusTests
{
    private static readonly InteractionDataset s_data =
        SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 11, UsersPerDomain = 30 }).ToDataset();

    private static readonly ByteLevelBpeTokenizer s_tokenizer = ByteLevelBpeTokenizer.Train(s_data.Items.Select(i => i.ToText()),
        new BpeTrainerOptions { VocabularySize = 500, SpecialTokens = [.. SpecialTokens.All] });

    [Test]
    public void HistoriesHoldNoValidationOrTestItemOfTheirUser()
    {
        var split = new LeaveOneOutSplit(s_data);
        var heldOut = split.Validation.Concat(split.Test).GroupBy(c => s_data.Users[c.User])
            .ToDictionary(g => g.Key, g => g.Select(c => s_data.Items[c.Target].Id).ToHashSet());

        var corpus = PretrainingCorpus.Create([TrainingSource.FromSplit(split)], s_tokenizer, maxHistory: 4);
        var histories = corpus.Histories().ToList();
        var userIndex = s_data.Users.Select((u, k) => (u, k)).ToDictionary(x => x.u, x => x.k);

        Assert.That(histories, Is.Not.Empty);
        foreach ((string _, string user, string[] items) in histories)
        {
            // A held-out item may also occur earlier in the same user's training part; only its held-out position is
            // forbidden, so each history must be a contiguous window of that user's training sequence.
            Assert.That(items.Length, Is.InRange(2, 5));
            string[] train = [.. split.Train[userIndex[user]].Select(i => s_data.Items[i].Id)];
            bool isWindow = Enumerable.Range(0, train.Length - items.Length + 1).Any(start => train.AsSpan(start, items.Length).SequenceEqual(items));
            Assert.That(isWindow, Is.True, $"history of {user} is not a window of its training part");
        }

        // Every training transition is in exactly one window, so nothing of the training part is lost either.
        int transitions = split.Train.Sum(s => Math.Max(0, s.Length - 1));
        Assert.That(histories.Sum(h => h.Items.Length - 1), Is.EqualTo(transitions));
        Assert.That(heldOut, Is.Not.Empty);
    }

    [Test]
    public void TheWholeSequenceWouldLeakAndTheSplitDoesNot()
    {
        // Held-out items that occur nowhere else: any appearance in a history is a leak.
        var users = s_data.Users.Select((u, k) => new UserSequence(u,
            [.. s_data.Sequences[k].Select(i => s_data.Items[i].Id), $"valid-{k}", $"test-{k}"], null)).ToList();
        var extra = s_data.Users.SelectMany((_, k) => new[]
        {
            new CatalogItem($"valid-{k}", $"validation only {k}", string.Empty),
            new CatalogItem($"test-{k}", $"test only {k}", string.Empty),
        });
        InteractionDataset data = InteractionDataset.Create("held", [.. s_data.Items, .. extra], users);
        var split = new LeaveOneOutSplit(data);

        static int Leaks(PretrainingCorpus c) => c.Histories().Sum(h => h.Items.Count(i => i.StartsWith("valid-", StringComparison.Ordinal) || i.StartsWith("test-", StringComparison.Ordinal)));
        var naive = new TrainingSource(data.Name, data.Items, data.Users, data.Sequences);
        Assert.That(Leaks(PretrainingCorpus.Create([naive], s_tokenizer, maxHistory: 4)), Is.GreaterThan(0), "the check must be able to see a leak");
        Assert.That(Leaks(PretrainingCorpus.Create([TrainingSource.FromSplit(split)], s_tokenizer, maxHistory: 4)), Is.Zero);
    }

    [Test]
    public void DocumentsAreItemTextsThenSerializedWindows()
    {
        var split = new LeaveOneOutSplit(s_data);
        var corpus = PretrainingCorpus.Create([TrainingSource.FromSplit(split)], s_tokenizer, maxHistory: 3, maxItemTokens: 8);
        int separator = s_tokenizer.TokenToId(SpecialTokens.ItemSeparator)!.Value;

        Assert.That(corpus.ItemDocumentCount, Is.EqualTo(s_data.ItemCount));
        Assert.That(corpus.Documents[0], Is.EqualTo(s_tokenizer.EncodeToIds(s_data.Items[0].ToText()).Take(8).Append(separator)));
        var first = corpus.Histories().First();
        Assert.That(corpus.Documents[corpus.ItemDocumentCount].Count(t => t == separator), Is.EqualTo(first.Items.Length));
        Assert.That(corpus.Documents.Count, Is.EqualTo(corpus.ItemDocumentCount + corpus.Histories().Count()));
    }
}
