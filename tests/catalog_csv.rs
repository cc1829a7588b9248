//! Catalog CSV import and export, as a shop owner's file meets it: the demo catalog, files saved
//! by Excel (BOM, CRLF), every kind of mistake with the exact line the report prints, and the
//! export → import round trip.

use proptest::prelude::*;
use storehub::catalog::csv::{
    categories_and_suppliers, parse_catalog, write_catalog, CsvError, COLUMNS, MAX_FEN,
    MAX_REORDER_POINT,
};
use storehub::catalog::{Category, Product, Supplier, Unit};
use storehub::demo::DEMO_CATALOG_CSV;
use storehub::domain::barcode::gs1_check_digit;

const HEADER: &str = "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point";

/// A valid row: 农夫山泉 550ml at ¥2.00, member ¥1.80, cost ¥1.50, 13 % VAT, reorder at 24.
fn good_row() -> Vec<String> {
    [
        "SKU-000001",
        "6901234567892",
        "农夫山泉饮用天然水 550ml",
        "Nongfu Spring 550ml",
        "饮料",
        "piece",
        "200",
        "180",
        "150",
        "1300",
        "华东饮料批发",
        "24",
    ]
    .map(str::to_string)
    .to_vec()
}

/// `good_row()` with some columns replaced; values are written as CSV fields (quoted if needed).
fn row(changes: &[(&str, &str)]) -> String {
    let mut fields = good_row();
    for (column, value) in changes {
        let i = COLUMNS.iter().position(|c| c == column).expect("known column");
        fields[i] = value.to_string();
    }
    fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",")
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

fn file(rows: &[String]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// The report's lines for a file that must be rejected.
fn report(input: &str) -> Vec<String> {
    report_bytes(input.as_bytes())
}

fn report_bytes(input: &[u8]) -> Vec<String> {
    match parse_catalog(input, "catalog.csv") {
        Ok(products) => panic!("expected errors, parsed {} products", products.len()),
        Err(report) => report.to_string().lines().map(str::to_string).collect(),
    }
}

/// The one error a file with the good row on line 2 and `bad` on line 3 gets.
fn one_error(bad: &[(&str, &str)]) -> String {
    let lines = report(&file(&[good_row_other_sku(), row(bad)]));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    lines[0].clone()
}

fn good_row_other_sku() -> String {
    row(&[("sku", "SKU-000000"), ("barcodes", "6901028075831")])
}

#[test]
fn demo_catalog_parses_with_at_least_240_products_and_20_weighed() {
    let products = parse_catalog(DEMO_CATALOG_CSV.as_bytes(), "catalog.csv").unwrap();
    assert!(products.len() >= 240, "{} products", products.len());
    let weighed: Vec<&Product> = products.iter().filter(|p| p.unit == Unit::Kg).collect();
    assert!(weighed.len() >= 20, "{} weighed", weighed.len());
    // Weighed goods are found by the scale's 5-digit PLU, priced per kg, reordered in grams.
    for p in weighed.iter().filter(|p| p.category == "水果" || p.category == "蔬菜") {
        assert!(p.barcodes.len() == 1 && p.barcodes[0].len() == 5, "{p:?}");
        assert_eq!(p.tax_bp, 900, "{p:?}");
        assert!(p.reorder_point.is_none_or(|g| g >= 1000), "{p:?}");
    }
    assert!(products.iter().all(|p| p.active));
    let nongfu = products.iter().find(|p| p.name_zh == "农夫山泉饮用天然水 550ml").unwrap();
    assert_eq!((nongfu.price_fen, nongfu.unit, nongfu.tax_bp), (200, Unit::Piece, 1300));
    let ean13 = products.iter().flat_map(|p| &p.barcodes).filter(|c| c.len() == 13).count();
    assert!(ean13 >= 180, "{ean13} EAN-13 codes");

    let (categories, suppliers) = categories_and_suppliers(&products);
    assert!(categories.len() >= 12, "{categories:?}");
    assert!(suppliers.len() >= 8, "{suppliers:?}");
    assert!(categories.iter().any(|c| c.id == "粮油调味"));
}

#[test]
fn excel_style_bom_and_crlf_are_accepted() {
    let plain = parse_catalog(DEMO_CATALOG_CSV.as_bytes(), "catalog.csv").unwrap();
    let excel = format!("\u{feff}{}", DEMO_CATALOG_CSV.replace('\n', "\r\n"));
    assert_eq!(parse_catalog(excel.as_bytes(), "catalog.csv").unwrap(), plain);
}

#[test]
fn columns_may_come_in_any_order() {
    let input = "unit,price_fen,sku,name_zh,category,tax_bp,barcodes,name_en,member_price_fen,cost_fen,supplier,reorder_point\r\n\
                 kg,1196,SKU-110001,富士苹果,水果,900,10001,Fuji Apple,,,本地果蔬合作社,5000\r\n";
    let products = parse_catalog(input.as_bytes(), "catalog.csv").unwrap();
    assert_eq!(
        products,
        [Product {
            sku: "SKU-110001".into(),
            barcodes: vec!["10001".into()],
            name_zh: "富士苹果".into(),
            name_en: "Fuji Apple".into(),
            category: "水果".into(),
            unit: Unit::Kg,
            price_fen: 1196,
            member_price_fen: None,
            cost_fen: None,
            tax_bp: 900,
            supplier: Some("本地果蔬合作社".into()),
            reorder_point: Some(5000),
            active: true,
        }]
    );
}

#[test]
fn optional_columns_may_be_empty_and_values_are_trimmed() {
    let input = file(&[row(&[
        ("barcodes", ""),
        ("name_en", ""),
        ("member_price_fen", ""),
        ("cost_fen", " "),
        ("supplier", ""),
        ("reorder_point", ""),
        ("name_zh", "\u{3000}肉松小贝 "),
        ("price_fen", " 600 "),
    ])]);
    let p = &parse_catalog(input.as_bytes(), "catalog.csv").unwrap()[0];
    assert_eq!(p.barcodes, Vec::<String>::new());
    assert_eq!(p.name_zh, "肉松小贝");
    assert_eq!(p.name_en, "");
    assert_eq!((p.price_fen, p.member_price_fen, p.cost_fen), (600, None, None));
    assert_eq!((&p.supplier, p.reorder_point), (&None, None));
}

#[test]
fn several_barcodes_per_product() {
    let input = file(&[row(&[("barcodes", "6901234567892|6921168509256 | 12345")])]);
    let p = &parse_catalog(input.as_bytes(), "catalog.csv").unwrap()[0];
    assert_eq!(p.barcodes, ["6901234567892", "6921168509256", "12345"]);
}

#[test]
fn price_must_be_whole_fen() {
    assert_eq!(
        one_error(&[("price_fen", "12.5")]),
        r#"catalog.csv:3: price_fen: expected a non-negative integer number of fen, got "12.5""#
    );
    assert_eq!(
        one_error(&[("price_fen", "")]),
        "catalog.csv:3: price_fen: empty; expected a non-negative integer number of fen"
    );
    assert_eq!(
        one_error(&[("price_fen", "1,200")]),
        r#"catalog.csv:3: price_fen: expected a non-negative integer number of fen, got "1,200""#
    );
    assert_eq!(
        one_error(&[("price_fen", "100000000"), ("member_price_fen", "")]),
        r#"catalog.csv:3: price_fen: expected at most 99999999 fen (¥999,999.99), got "100000000""#
    );
    assert_eq!(
        one_error(&[("price_fen", "99999999999999999999999")]),
        r#"catalog.csv:3: price_fen: expected at most 99999999 fen (¥999,999.99), got "99999999999999999999999""#
    );
}

#[test]
fn barcode_with_wrong_check_digit() {
    assert_eq!(
        one_error(&[("barcodes", "6901234567890")]),
        r#"catalog.csv:3: barcodes: "6901234567890": wrong check digit 0; expected 2"#
    );
}

#[test]
fn barcode_faults_are_named() {
    assert_eq!(
        one_error(&[("barcodes", "690123456789")]),
        r#"catalog.csv:3: barcodes: "690123456789": wrong check digit 9; expected 7"#
    );
    assert_eq!(
        one_error(&[("barcodes", "69012345678A2")]),
        r#"catalog.csv:3: barcodes: "69012345678A2": character 'A' at position 12 is not a digit"#
    );
    assert_eq!(
        one_error(&[("barcodes", "123")]),
        r#"catalog.csv:3: barcodes: "123": 3 digits is not a catalog code; expected a GTIN (8, 12 or 13 digits) or a scale PLU item code (4 to 7 digits)"#
    );
    assert_eq!(
        one_error(&[("barcodes", "6901234567892||12345")]),
        r#"catalog.csv:3: barcodes: empty code in "6901234567892||12345"; separate codes with one "|""#
    );
    assert_eq!(
        one_error(&[("barcodes", "6901234567892|6901234567892")]),
        r#"catalog.csv:3: barcodes: "6901234567892" is listed twice"#
    );
    let seventeen = vec!["12345"; 17].join("|");
    assert_eq!(
        one_error(&[("barcodes", &seventeen)]),
        "catalog.csv:3: barcodes: 17 codes; the limit is 16"
    );
}

#[test]
fn duplicate_sku_names_its_first_line() {
    let input = file(&[
        row(&[]),
        row(&[("sku", "SKU-000002"), ("barcodes", "6921168509256")]),
        row(&[("barcodes", "6901028075831")]),
    ]);
    assert_eq!(report(&input), ["catalog.csv:4: sku: duplicate of line 2"]);
}

#[test]
fn barcode_already_used_by_another_product() {
    let input = file(&[
        row(&[("sku", "SKU-000001"), ("barcodes", "6921168509256")]),
        row(&[("sku", "X"), ("barcodes", "6901028075831")]),
        row(&[("sku", "SKU-000003"), ("barcodes", "6930000000011|6901028075831")]),
    ]);
    assert_eq!(
        report(&input),
        [r#"catalog.csv:4: barcodes: "6901028075831" already used by sku X on line 3"#]
    );
}

#[test]
fn unit_is_piece_or_kg() {
    assert_eq!(
        one_error(&[("unit", "box")]),
        r#"catalog.csv:3: unit: expected piece or kg, got "box""#
    );
    assert_eq!(one_error(&[("unit", "")]), "catalog.csv:3: unit: empty; expected piece or kg");
}

#[test]
fn wrong_number_of_fields() {
    let input = format!("{HEADER}\n{}\nSKU-2,,甲,,饮料,piece,100,,,1300,\n", good_row_other_sku());
    assert_eq!(report(&input), ["catalog.csv:3: expected 12 fields as in the header, found 11"]);
    let input = format!("{HEADER}\n{},extra\n", row(&[]));
    assert_eq!(report(&input), ["catalog.csv:2: expected 12 fields as in the header, found 13"]);
}

#[test]
fn sku_must_be_one_short_word() {
    assert_eq!(one_error(&[("sku", "")]), "catalog.csv:3: sku: empty; every product needs a SKU");
    assert_eq!(
        one_error(&[("sku", "SKU 000001")]),
        r#"catalog.csv:3: sku: "SKU 000001" contains whitespace; a SKU is one word"#
    );
    assert_eq!(
        one_error(&[("sku", " SKU-000001")]),
        r#"catalog.csv:3: sku: " SKU-000001" contains whitespace; a SKU is one word"#
    );
    assert_eq!(
        one_error(&[("sku", "SKU\u{7}1")]),
        r#"catalog.csv:3: sku: "SKU\u{7}1" contains control character U+0007"#
    );
    assert_eq!(
        one_error(&[("sku", &"S".repeat(65))]),
        "catalog.csv:3: sku: 65 characters; the limit is 64"
    );
    // 64 is fine.
    let input = file(&[row(&[("sku", &"S".repeat(64))])]);
    assert!(parse_catalog(input.as_bytes(), "catalog.csv").is_ok());
}

#[test]
fn names_are_required_and_bounded() {
    assert_eq!(
        one_error(&[("name_zh", " ")]),
        "catalog.csv:3: name_zh: empty; every product needs a Chinese name"
    );
    assert_eq!(
        one_error(&[("name_zh", &"水".repeat(101))]),
        "catalog.csv:3: name_zh: 101 characters; the limit is 100"
    );
    assert_eq!(
        one_error(&[("name_en", &"w".repeat(101))]),
        "catalog.csv:3: name_en: 101 characters; the limit is 100"
    );
    assert_eq!(
        one_error(&[("name_en", "Nongfu\tSpring")]),
        r#"catalog.csv:3: name_en: "Nongfu\tSpring" contains control character U+0009"#
    );
    assert_eq!(
        one_error(&[("category", "")]),
        "catalog.csv:3: category: empty; every product needs a category"
    );
    assert_eq!(
        one_error(&[("category", &"类".repeat(33))]),
        "catalog.csv:3: category: 33 characters; the limit is 32"
    );
    assert_eq!(
        one_error(&[("supplier", &"商".repeat(65))]),
        "catalog.csv:3: supplier: 65 characters; the limit is 64"
    );
}

#[test]
fn member_price_may_not_exceed_price() {
    assert_eq!(
        one_error(&[("price_fen", "1190"), ("member_price_fen", "1290")]),
        "catalog.csv:3: member_price_fen: 1290 is greater than price_fen 1190"
    );
    // Equal is allowed.
    let input = file(&[row(&[("member_price_fen", "200")])]);
    assert!(parse_catalog(input.as_bytes(), "catalog.csv").is_ok());
}

#[test]
fn cost_may_not_be_negative() {
    assert_eq!(
        one_error(&[("cost_fen", "-150")]),
        r#"catalog.csv:3: cost_fen: expected a non-negative integer number of fen, got "-150""#
    );
}

#[test]
fn tax_is_required_and_at_most_100_percent() {
    assert_eq!(
        one_error(&[("tax_bp", "10001")]),
        r#"catalog.csv:3: tax_bp: expected basis points from 0 to 10000 (1300 = 13%), got "10001""#
    );
    assert_eq!(
        one_error(&[("tax_bp", "13%")]),
        r#"catalog.csv:3: tax_bp: expected basis points from 0 to 10000 (1300 = 13%), got "13%""#
    );
    assert_eq!(
        one_error(&[("tax_bp", "")]),
        "catalog.csv:3: tax_bp: empty; expected basis points from 0 to 10000 (1300 = 13%)"
    );
}

#[test]
fn reorder_point_may_not_be_negative() {
    assert_eq!(
        one_error(&[("reorder_point", "-3")]),
        r#"catalog.csv:3: reorder_point: expected a non-negative integer (pieces, or grams for kg goods), got "-3""#
    );
    assert_eq!(
        one_error(&[("reorder_point", "1000000001")]),
        r#"catalog.csv:3: reorder_point: expected at most 1000000000, got "1000000001""#
    );
}

#[test]
fn header_faults_are_all_named() {
    let input = "sku,barcodes,name_zh,名称,category,unit,price_fen,member_price_fen,cost_fen,sku,supplier,reorder_point\n";
    assert_eq!(
        report(input),
        [
            r#"catalog.csv:1: unknown column "名称" (field 4); expected only sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point"#,
            "catalog.csv:1: column sku appears twice (fields 1 and 10)",
            "catalog.csv:1: missing column name_en",
            "catalog.csv:1: missing column tax_bp",
        ]
    );
    assert_eq!(
        report(&format!("{HEADER},color\n")),
        [
            r#"catalog.csv:1: unknown column "color" (field 13); expected only sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point"#
        ]
    );
}

#[test]
fn empty_file_asks_for_the_header() {
    let expected = [format!("catalog.csv:1: empty file; expected a header line: {HEADER}")];
    assert_eq!(report(""), expected);
    assert_eq!(report("\u{feff}"), expected);
    // A header alone is an empty catalog.
    assert_eq!(parse_catalog(HEADER.as_bytes(), "catalog.csv").unwrap(), []);
}

#[test]
fn a_gbk_file_is_rejected_naming_line_and_column() {
    // "可乐" in GBK is C4 BF C0 D6; C4 BF happens to be valid UTF-8 (Ŀ), C0 never is.
    let mut input = format!("{HEADER}\n{}\n", good_row_other_sku()).into_bytes();
    input.extend_from_slice(b"SKU-2,,\xC4\xBF\xC0\xD6,,\xD2\xFB\xC1\xCF,piece,300,,,1300,,\n");
    assert_eq!(
        report_bytes(&input),
        [
            r#"catalog.csv:3: name_zh: not valid UTF-8 (byte 0xC0 at offset 2); save the file as UTF-8 (Excel: "CSV UTF-8")"#,
            r#"catalog.csv:3: category: not valid UTF-8 (byte 0xD2 at offset 0); save the file as UTF-8 (Excel: "CSV UTF-8")"#,
        ]
    );
}

#[test]
fn a_file_with_several_bad_lines_reports_all_of_them_in_order() {
    let input = file(&[
        row(&[("sku", "SKU-1"), ("barcodes", "6921168509256")]),
        row(&[("sku", "SKU-2"), ("barcodes", "6901234567890"), ("price_fen", "12.5")]),
        row(&[("sku", "SKU-3"), ("barcodes", ""), ("unit", "box")]),
        row(&[("sku", "SKU-1"), ("barcodes", "6921168509256")]),
        row(&[("sku", "SKU-5"), ("barcodes", ""), ("tax_bp", "20000"), ("reorder_point", "-1")]),
        row(&[("sku", "SKU-6"), ("barcodes", "")]),
    ]);
    assert_eq!(
        report(&input),
        [
            r#"catalog.csv:3: price_fen: expected a non-negative integer number of fen, got "12.5""#,
            r#"catalog.csv:3: barcodes: "6901234567890": wrong check digit 0; expected 2"#,
            r#"catalog.csv:4: unit: expected piece or kg, got "box""#,
            "catalog.csv:5: sku: duplicate of line 2",
            r#"catalog.csv:5: barcodes: "6921168509256" already used by sku SKU-1 on line 2"#,
            r#"catalog.csv:6: tax_bp: expected basis points from 0 to 10000 (1300 = 13%), got "20000""#,
            r#"catalog.csv:6: reorder_point: expected a non-negative integer (pieces, or grams for kg goods), got "-1""#,
        ]
    );
    let err = parse_catalog(input.as_bytes(), "catalog.csv").unwrap_err();
    assert_eq!(
        err.errors[0],
        CsvError {
            line: 3,
            column: Some("price_fen"),
            message: r#"expected a non-negative integer number of fen, got "12.5""#.into()
        }
    );
    // The report is a std error, so `?` in the CLI carries it.
    let _: &dyn std::error::Error = &err;
}

#[test]
fn export_starts_with_bom_and_header() {
    let mut out = Vec::new();
    write_catalog(&[], &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), format!("\u{feff}{HEADER}\n"));
}

#[test]
fn demo_catalog_round_trips() {
    let products = parse_catalog(DEMO_CATALOG_CSV.as_bytes(), "catalog.csv").unwrap();
    let mut out = Vec::new();
    write_catalog(&products, &mut out).unwrap();
    assert_eq!(parse_catalog(&out, "export.csv").unwrap(), products);
}

#[test]
fn categories_and_suppliers_in_order_of_first_appearance() {
    let input = file(&[
        row(&[("sku", "A"), ("barcodes", ""), ("category", "饮料"), ("supplier", "华东饮料批发")]),
        row(&[("sku", "B"), ("barcodes", ""), ("category", "水果"), ("supplier", "")]),
        row(&[("sku", "C"), ("barcodes", ""), ("category", "饮料"), ("supplier", "上海粮油公司")]),
    ]);
    let products = parse_catalog(input.as_bytes(), "catalog.csv").unwrap();
    let (categories, suppliers) = categories_and_suppliers(&products);
    let category =
        |id: &str| Category { id: id.into(), name_zh: id.into(), name_en: String::new() };
    let supplier = |id: &str| Supplier { id: id.into(), name: id.into() };
    assert_eq!(categories, [category("饮料"), category("水果")]);
    assert_eq!(suppliers, [supplier("华东饮料批发"), supplier("上海粮油公司")]);
}

fn ean13(body: u64) -> String {
    let body = format!("69{:010}", body % 10_000_000_000);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", gs1_check_digit(&digits))
}

/// Text a shop would write, including CSV's awkward characters; trimmed and without control
/// characters, as `parse_catalog` returns it.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 ,\"'|\u{4e00}-\u{9fa5}（）×%]{{0,{max}}}"))
        .unwrap()
        .prop_map(|s| s.trim().to_string())
}

fn product() -> impl Strategy<Value = Product> {
    let codes = prop::collection::vec(
        prop_oneof![
            any::<u64>().prop_map(ean13),
            (1000u32..10_000_000).prop_map(|n| n.to_string())
        ],
        0..4,
    );
    (
        "[A-Za-z0-9_-]{1,20}",
        codes,
        (text(30), text(30), "[\u{4e00}-\u{9fa5}a-z]{1,10}"),
        prop_oneof![Just(Unit::Piece), Just(Unit::Kg)],
        (0..=MAX_FEN, any::<Option<u16>>(), proptest::option::of(0..=MAX_FEN)),
        (0u32..=10_000, text(20), proptest::option::of(0..=MAX_REORDER_POINT)),
    )
        .prop_map(
            |(
                sku,
                barcodes,
                (zh, name_en, category),
                unit,
                (price, member, cost),
                (tax, supplier, reorder),
            )| Product {
                sku,
                barcodes,
                name_zh: if zh.is_empty() { "品".into() } else { zh },
                name_en,
                category,
                unit,
                price_fen: price,
                member_price_fen: member.map(|m| i64::from(m).min(price)),
                cost_fen: cost,
                tax_bp: tax,
                supplier: Some(supplier).filter(|s| !s.is_empty()),
                reorder_point: reorder,
                active: true,
            },
        )
}

/// Products with distinct SKUs and codes, as a valid file has them.
fn catalog() -> impl Strategy<Value = Vec<Product>> {
    prop::collection::vec(product(), 0..20).prop_map(|mut products| {
        let mut seen = std::collections::HashSet::new();
        for (i, p) in products.iter_mut().enumerate() {
            p.sku = format!("{}-{i}", p.sku);
            p.barcodes.retain(|c| seen.insert(c.clone()));
        }
        products
    })
}

proptest! {
    #[test]
    fn export_then_import_gives_the_same_products(products in catalog()) {
        let mut out = Vec::new();
        write_catalog(&products, &mut out).unwrap();
        prop_assert_eq!(parse_catalog(&out, "export.csv").unwrap(), products);
    }

    #[test]
    fn any_bytes_give_products_or_a_report_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_catalog(&bytes, "fuzz.csv");
        let mut with_header = format!("{HEADER}\n").into_bytes();
        with_header.extend_from_slice(&bytes);
        if let Err(report) = parse_catalog(&with_header, "fuzz.csv") {
            prop_assert!(!report.errors.is_empty());
            let _ = report.to_string();
        }
    }

    #[test]
    fn mangled_rows_never_panic(cells in prop::collection::vec("[0-9a-z|\",.\r\n \u{feff}\u{3000}-]{0,15}", 0..40)) {
        let input = format!("{HEADER}\n{}", cells.join(","));
        let _ = parse_catalog(input.as_bytes(), "fuzz.csv");
    }
}
