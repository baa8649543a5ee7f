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
}
