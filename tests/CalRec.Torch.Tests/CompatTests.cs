using System.Diagnostics;
using CalRec.Build;

namespace CalRec.Torch.Tests;

/// <summary>
/// The build step that makes TorchSharp load on distributions with an older libstdc++ (build/TorchSharpCompat): its
/// detection both ways, its rewriting, and the library this test project's build left in its output.
/// </summary>
[Platform("Linux")]
public sealed class CompatTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("calrec-compat-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static string Shipped()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assume.That(File.Exists(path), $"the TorchSharp package is not in {root}");
        return path;
    }

    // A stand-in for a system libstdc++ that defines the given versions (a shared library with a version script).
    private string FakeLibStdCxx(params string[] versions)
    {
        string map = Path.Combine(_dir, "versions.map"), code = Path.Combine(_dir, "f.cpp"), lib = Path.Combine(_dir, $"libfake{versions.Length}.so");
        File.WriteAllText(map, string.Concat(versions.Select((v, i) => $"{v} {{ global: f{i}; }};\n")));
        File.WriteAllText(code, string.Concat(versions.Select((_, i) => $"extern \"C\" void f{i}() {{}}\n")));
        using Process p = Process.Start(new ProcessStartInfo("g++", $"-shared -fPIC -o {lib} {code} -Wl,--version-script={map}") { RedirectStandardError = true })!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, error);
        return lib;
    }

    [Test]
    public void TheShippedLibraryNeedsTheMissingVersionForOneSymbol()
    {
        Dictionary<string, List<string>> needs = ElfVersions.Needs(Shipped());
        Assert.That(needs[ElfVersions.LibStdCxx], Does.Contain(ElfVersions.MissingVersion).And.Contain("GLIBCXX_3.4.30"));
    }

    [Test]
    public void DetectionPatchesOnlyWhereTheSystemLacksTheVersion()
    {
        string old = FakeLibStdCxx("GLIBCXX_3.4.29", "GLIBCXX_3.4.30");
        string recent = FakeLibStdCxx("GLIBCXX_3.4.30", "GLIBCXX_3.4.31", ElfVersions.MissingVersion);
        Assert.That(ElfVersions.Defines(recent), Does.Contain(ElfVersions.MissingVersion));
        Assert.That(ElfVersions.Decide(Shipped(), old), Is.EqualTo(CompatDecision.Patch));
        Assert.That(ElfVersions.Decide(Shipped(), recent), Is.EqualTo(CompatDecision.SystemIsNewEnough));
    }

    [Test]
    public void TheRewriteRenamesTheNeedToTheNewestVersionTheSystemHas()
    {
        string copy = Path.Combine(_dir, "libLibTorchSharp.so");
        File.Copy(Shipped(), copy);
        string used = ElfVersions.RewriteMissingNeed(copy, FakeLibStdCxx("GLIBCXX_3.4.29", "GLIBCXX_3.4.30"));

        Assert.That(used, Is.EqualTo("GLIBCXX_3.4.30"));
        Assert.That(ElfVersions.Needs(copy)[ElfVersions.LibStdCxx], Does.Not.Contain(ElfVersions.MissingVersion));
        Assert.That(ElfVersions.Decide(copy, FakeLibStdCxx("GLIBCXX_3.4.30")), Is.EqualTo(CompatDecision.LibraryNeedsNothingMissing));
        // The vna_hash values the linker stored in the shipped library for these two names.
        Assert.That(ElfVersions.Hash("GLIBCXX_3.4.30"), Is.EqualTo(0x0297f840u));
        Assert.That(ElfVersions.Hash(ElfVersions.MissingVersion), Is.EqualTo(0x0297f842u));
    }

    [Test]
    public void TheLibraryInThisBuildOutputLoadsWithTheSystemLibStdCxx()
    {
        // The solution builds for the machine's runtime identifier (Directory.Build.props): the natives sit beside the
        // assemblies, copied as links into the NuGet cache, except this one, which the build step replaced by its patched file
        // (TheShippedLibraryNeedsTheMissingVersionForOneSymbol shows the cache's own copy was not written through the link).
        string output = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        string? system = ElfVersions.FindSystemLibStdCxx();
        Assume.That(system, Is.Not.Null);
        Assert.That(ElfVersions.Decide(output, system!), Is.Not.EqualTo(CompatDecision.Patch), "the build step ran after the copy");
        // And TorchSharp really runs here.
        Assert.That(TorchSharp.torch.ones(2, 2).sum().item<float>(), Is.EqualTo(4f));
    }
}
