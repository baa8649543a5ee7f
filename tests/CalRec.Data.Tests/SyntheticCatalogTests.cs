using CalRec.Data.Synthetic;

namespace CalRec.Data.Tests;

[TestFixture]
public class SyntheticCatalogTests
{
    [Test]
    public void SameSeedSameData()
    {
        SyntheticCatalog a = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 50 });
        SyntheticCatalog b = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 50 });
        Assert.That(a.Items, Is.EqualTo(b.Items));
        Assert.That(a.Users.Select(u => string.Join(",", u.Items)), Is.EqualTo(b.Users.Select(u => string.Join(",", u.Items))));
        SyntheticCatalog c = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 6, UsersPerDomain = 50 });
        Assert.That(c.Items.Select(i => i.Title), Is.Not.EqualTo(a.Items.Select(i => i.Title)));
    }

    [Test]
    public void HistoriesFollowTheRoutineMostOfTheTime()
    {
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 1, UsersPerDomain = 200 });
        var byId = data.Items.ToDictionary(i => i.Id);
        int follows = 0, transitions = 0;
        foreach (SyntheticUser u in data.Users)
        {
            Assert.That(u.Items, Has.Count.InRange(5, 20));
            Assert.That(u.Items.Distinct().Count(), Is.EqualTo(u.Items.Count), "no repeated items");
            for (int i = 1; i < u.Items.Count; i++)
            {
                SyntheticItem prev = byId[u.Items[i - 1]], next = byId[u.Items[i]];
                Assert.That(next.Domain, Is.EqualTo(prev.Domain));
                transitions++;
                follows += prev.Brand == next.Brand ? 1 : 0;
            }
        }

        // 70% routine moves keep the brand, plus some random moves that land on it: clearly above chance (1/12).
        Assert.That((double)follows / transitions, Is.GreaterThan(0.6));
    }

    [Test]
    public void ForDomainKeepsTheDomainsItemsAndEachUsersInteractionsWithThemInOrder()
    {
        InteractionDataset data = InteractionDataset.Create("shop",
            [new("a1", "A one", "domain=a"), new("b1", "B one", "domain=b"), new("a2", "A two", "domain=a")],
            [new("u1", ["a1", "b1", "a2"], [10, 20, 30]), new("u2", ["b1"], [5]), new("u3", ["a2", "a1"], [1, 2])]);
        InteractionDataset a = data.ForDomain("a");
        Assert.That(a.Name, Is.EqualTo("shop/a"));
        Assert.That(a.Items.Select(i => i.Id), Is.EqualTo(new[] { "a1", "a2" }));
        Assert.That(a.Users, Is.EqualTo(new[] { "u1", "u3" }), "u2 has nothing in domain a");
        Assert.That(a.Sequences.Select(s => string.Join(",", s.Select(i => a.Items[i].Id))), Is.EqualTo(new[] { "a1,a2", "a2,a1" }));
        Assert.That(a.Timestamps![0], Is.EqualTo(new long[] { 10, 30 }));
        Assert.That(() => data.ForDomain("c"), Throws.ArgumentException.With.Message.Contains("domains: a, b"));
    }
}
