using System.Buffers.Binary;

namespace Tally.Geo;

/// <summary>
/// What an address means for a geo lookup, before any database is asked: the IPv4 address that an IPv6 address
/// carries, and whether the address can be anywhere on a map at all. Special-purpose ranges (IANA's registries: private,
/// loopback, link-local, shared, documentation, benchmarking, multicast, reserved) have no location, whatever a
/// database says; some databases do give them one (the ip-location-db country data puts 172.16.0.0/12 and
/// 192.168.0.0/16 in AU and 2001:db8::/32 in JP).
/// </summary>
public static class AddressScope
{
    /// <summary>
    /// Writes the address to look up into <paramref name="destination"/> (16 bytes) and returns its length: 4 for an IPv4
    /// address, also one carried by an IPv6 address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64
    /// 64:ff9b::/96, 6to4 2002::/16, and Teredo 2001::/32, whose client address is stored inverted); 16 otherwise.
    /// </summary>
    public static int Normalize(ReadOnlySpan<byte> address, Span<byte> destination)
    {
        if (address.Length == 4)
        {
            address.CopyTo(destination);
            return 4;
        }
        if (address.Length != 16) throw new ArgumentException($"An IP address is 4 or 16 bytes, not {address.Length}.", nameof(address));

        var value = BinaryPrimitives.ReadUInt128BigEndian(address);
        if (In(value, 0, 96) || In(value, (UInt128)0xFFFF << 32, 96) || In(value, (UInt128)0x0064_FF9B << 96, 96))
        {
            address[12..].CopyTo(destination);
            return 4;
        }
        if (In(value, (UInt128)0x2002 << 112, 16))
        {
            address.Slice(2, 4).CopyTo(destination);
            return 4;
        }
        if (In(value, (UInt128)0x2001_0000 << 96, 32))
        {
            for (var i = 0; i < 4; i++) destination[i] = (byte)~address[12 + i];
            return 4;
        }
        address.CopyTo(destination);
        return 16;
    }

    /// <summary>False for addresses in special-purpose ranges that are not globally reachable, and multicast.</summary>
    public static bool IsGlobal(ReadOnlySpan<byte> address)
    {
        if (address.Length == 4)
        {
            var v = BinaryPrimitives.ReadUInt32BigEndian(address);
            return !(In(v, 0x00000000, 8)        // "this network"
                || In(v, 0x0A000000, 8)          // private
                || In(v, 0x64400000, 10)         // shared address space (carrier-grade NAT)
                || In(v, 0x7F000000, 8)          // loopback
                || In(v, 0xA9FE0000, 16)         // link-local
                || In(v, 0xAC100000, 12)         // private
                || In(v, 0xC0000000, 24)         // IETF protocol assignments
                || In(v, 0xC0000200, 24)         // documentation (TEST-NET-1)
                || In(v, 0xC0A80000, 16)         // private
                || In(v, 0xC6120000, 15)         // benchmarking
                || In(v, 0xC6336400, 24)         // documentation (TEST-NET-2)
                || In(v, 0xCB007100, 24)         // documentation (TEST-NET-3)
                || In(v, 0xE0000000, 4)          // multicast
                || In(v, 0xF0000000, 4));        // reserved, and the limited broadcast address
        }
        if (address.Length != 16) throw new ArgumentException($"An IP address is 4 or 16 bytes, not {address.Length}.", nameof(address));
        var w = BinaryPrimitives.ReadUInt128BigEndian(address);
        return !(In(w, 0, 96)                                      // unspecified, loopback, IPv4-compatible
            || In(w, (UInt128)0xFFFF << 32, 96)                    // IPv4-mapped
            || In(w, (UInt128)0x0064_FF9B_0001 << 80, 48)          // local-use IPv4/IPv6 translation
            || In(w, (UInt128)0x0100 << 112, 64)                   // discard-only
            || In(w, (UInt128)0x2001_0000 << 96, 23)               // IETF protocol assignments (Teredo among them)
            || In(w, (UInt128)0x2001_0DB8 << 96, 32)               // documentation
            || In(w, (UInt128)0x3FFF << 112, 20)                   // documentation
            || In(w, (UInt128)0x5F00 << 112, 16)                   // segment routing (SRv6) SIDs
            || In(w, (UInt128)0xFC00 << 112, 7)                    // unique local
            || In(w, (UInt128)0xFE80 << 112, 9)                    // link-local, and the deprecated site-local
            || In(w, (UInt128)0xFF00 << 112, 8));                  // multicast
    }

    private static bool In(uint value, uint network, int prefixLength) => value >> (32 - prefixLength) == network >> (32 - prefixLength);

    private static bool In(UInt128 value, UInt128 network, int prefixLength) => value >> (128 - prefixLength) == network >> (128 - prefixLength);
}
