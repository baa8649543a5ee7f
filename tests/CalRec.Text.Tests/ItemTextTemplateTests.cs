using CalRec.Text.Templates;

namespace CalRec.Text.Tests;

[TestFixture]
public class ItemTextTemplateTests
{
    private static readonly Dictionary<string, string?> Item = new(StringComparer.OrdinalIgnoreCase)
    {
        ["title"] = "Gel pen, pack of 3",
        ["brand"] = "Kalo",
        ["category"] = "office > gel pen",
        ["color"] = " ",
    };

    [Test]
    public void RendersFieldsAndDropsSegmentsWhoseFieldsAreMissing()
    {
        ItemTextTemplate t = ItemTextTemplate.Parse("title: {title}; brand: {Brand}; color: {color}; size: {size}; category: {category}");
        Assert.That(t.Render(f => Item.GetValueOrDefault(f)), Is.EqualTo("title: Gel pen, pack of 3; brand: Kalo; category: office > gel pen"));
        Assert.That(t.Fields, Is.EqualTo(new[] { "title", "Brand", "color", "size", "category" }));
        Assert.That(ItemTextTemplate.Parse("{brand} {title}").Render(f => Item.GetValueOrDefault(f)), Is.EqualTo("Kalo Gel pen, pack of 3"));
    }

    [TestCase("title: {title", "column 8")]
    [TestCase("title: {}", "column 8")]
    [TestCase("title} x {title}", "column 6")]
    [TestCase("no placeholders", "no placeholder")]
    public void MalformedTemplatesSayWhere(string template, string expected) =>
        Assert.That(() => ItemTextTemplate.Parse(template), Throws.TypeOf<FormatException>().With.Message.Contains(expected));
}
