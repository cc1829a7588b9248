//! Member preference profiles (会员画像): preferred categories, price sensitivity, preferred
//! weekday and hour, channel mix and average basket, kept in `TreeId::MemberProfiles` and
//! refreshed as the member's sales commit. Arithmetic in `domain::profile`.
