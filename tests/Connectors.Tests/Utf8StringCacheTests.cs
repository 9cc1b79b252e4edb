using System.Text;
using Kommune.Connectors.Codecs;

namespace Kommune.Connectors.Tests;

public sealed class Utf8StringCacheTests
{
    [Theory]
    [InlineData("traffic-000123")]
    [InlineData("Bærum-sentrum")] // not ASCII: two bytes for 'æ'
    [InlineData("måler-Ø-7")]
    [InlineData("")]
    public void The_same_bytes_give_the_same_string_instance_with_the_text_they_encode(string text)
    {
        var cache = new Utf8StringCache(10);
        var bytes = Encoding.UTF8.GetBytes(text);

        var first = cache.Get(bytes);
        var second = cache.Get(bytes.ToArray());

        Assert.Equal(text, first);
        Assert.Same(first, second);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Texts_that_differ_only_in_a_letter_outside_ascii_or_in_case_are_different_strings()
    {
        var cache = new Utf8StringCache(10);
        string[] texts = ["område-æ", "område-ø", "område-å", "OMRÅDE-Å", "omrade-a", "område-a"];

        var got = texts.Select(t => cache.Get(Encoding.UTF8.GetBytes(t))).ToArray();

        Assert.Equal(texts, got);
        Assert.Equal(texts.Length, cache.Count);
        Assert.All(texts, t => Assert.Same(got[Array.IndexOf(texts, t)], cache.Get(Encoding.UTF8.GetBytes(t))));
    }

    [Fact]
    public void Once_full_it_makes_new_strings_without_keeping_them_and_still_hands_out_those_it_kept()
    {
        var cache = new Utf8StringCache(2);
        var a = cache.Get("a"u8);
        cache.Get("b"u8);

        var c1 = cache.Get("c"u8);
        var c2 = cache.Get("c"u8);

        Assert.Equal(2, cache.Count);
        Assert.Equal("c", c1);
        Assert.NotSame(c1, c2);
        Assert.Same(a, cache.Get("a"u8));
    }

    [Fact]
    public void Bytes_that_are_not_valid_utf8_give_no_string_and_are_not_kept_even_beside_a_kept_text_they_start_like()
    {
        var cache = new Utf8StringCache(10);
        var kept = cache.Get("Bærum"u8);
        byte[] cut = [.. "Bærum"u8[..2]]; // 'B' and the first byte of 'æ'
        byte[] lone = [0x42, 0xFF, 0x72];

        Assert.Null(cache.Get(cut));
        Assert.Null(cache.Get(lone));
        Assert.Null(cache.Get([.. Encoding.UTF8.GetBytes(new string('a', Utf8StringCache.MaxBytes)), 0xC3])); // too long to keep, and cut
        Assert.Equal(1, cache.Count);
        Assert.Same(kept, cache.Get("Bærum"u8));
    }

    [Fact]
    public void A_text_longer_than_it_keeps_is_made_each_time()
    {
        var cache = new Utf8StringCache(10);
        var bytes = Encoding.UTF8.GetBytes(new string('æ', Utf8StringCache.MaxBytes)); // twice MaxBytes bytes

        var first = cache.Get(bytes);

        Assert.Equal(new string('æ', Utf8StringCache.MaxBytes), first);
        Assert.NotSame(first, cache.Get(bytes));
        Assert.Equal(0, cache.Count);
    }
}
