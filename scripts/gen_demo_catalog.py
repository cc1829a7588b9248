#!/usr/bin/env python3
"""Generate src/demo/catalog.csv: the demo catalog of a Chinese neighbourhood supermarket.

The product list (names, shelf prices) is written out below by hand; everything derived from it
(EAN-13 codes with correct GS1 check digits on 690-695 prefixes, scale PLU codes for weighed goods,
member prices, costs, reorder points) comes from a fixed seed, so running this script again
produces the same file byte for byte. The output is committed; `cargo test` checks it parses.

Usage: python3 scripts/gen_demo_catalog.py [OUT]   (default: src/demo/catalog.csv)
"""

import csv
import io
import random
import sys
from pathlib import Path

SEED = 20240601
COLUMNS = [
    "sku", "barcodes", "name_zh", "name_en", "category", "unit", "price_fen",
    "member_price_fen", "cost_fen", "tax_bp", "supplier", "reorder_point",
]

VAT = 1300  # standard 13 % VAT, in basis points
VAT_AGRI = 900  # 9 % for agricultural goods, grain, edible oil, fresh milk

# Each category: code (two digits in the SKU), name, default supplier, default tax, unit, items.
# Items: (name_zh, name_en, price_fen) with optional dict of overrides:
#   tax, supplier ("" = none), barcode ("none" = sold without a barcode, "two" = two barcodes).
CATEGORIES = [
    ("01", "饮料", "华东饮料批发", VAT, "piece", [
        ("农夫山泉饮用天然水 550ml", "Nongfu Spring Natural Water 550ml", 200),
        ("农夫山泉饮用天然水 1.5L", "Nongfu Spring Natural Water 1.5L", 400),
        ("怡宝纯净水 555ml", "C'estbon Purified Water 555ml", 200),
        ("百岁山天然矿泉水 570ml", "Ganten Natural Mineral Water 570ml", 300),
        ("可口可乐 330ml 罐装", "Coca-Cola 330ml Can", 300, {"supplier": "可口可乐上海装瓶厂", "barcode": "two"}),
        ("可口可乐 2L", "Coca-Cola 2L", 750, {"supplier": "可口可乐上海装瓶厂"}),
        ("百事可乐 500ml", "Pepsi 500ml", 300),
        ("雪碧 500ml", "Sprite 500ml", 300, {"supplier": "可口可乐上海装瓶厂"}),
        ("芬达橙味汽水 500ml", "Fanta Orange 500ml", 300, {"supplier": "可口可乐上海装瓶厂"}),
        ("元气森林白桃味苏打气泡水 480ml", "Genki Forest White Peach Sparkling Water 480ml", 550),
        ("康师傅冰红茶 500ml", "Master Kong Iced Black Tea 500ml", 300),
        ("康师傅绿茶 500ml", "Master Kong Green Tea 500ml", 300),
        ("统一阿萨姆奶茶 500ml", "Uni-President Assam Milk Tea 500ml", 500),
        ("东方树叶茉莉花茶 500ml", "Oriental Leaf Jasmine Tea 500ml", 500),
        ("王老吉凉茶 310ml 罐装", "Wong Lo Kat Herbal Tea 310ml Can", 350, {"barcode": "two"}),
        ("加多宝凉茶 310ml 罐装", "JDB Herbal Tea 310ml Can", 350),
        ("红牛维生素功能饮料 250ml", "Red Bull Energy Drink 250ml", 600),
        ("东鹏特饮 500ml", "Eastroc Energy Drink 500ml", 500),
        ("脉动青柠味 600ml", "Mizone Lime 600ml", 500),
        ("美汁源果粒橙 420ml", "Minute Maid Pulpy Orange 420ml", 400, {"supplier": "可口可乐上海装瓶厂"}),
        ("汇源100%橙汁 1L", "Huiyuan 100% Orange Juice 1L", 1380),
        ("椰树牌椰汁 245ml", "Coconut Palm Coconut Milk 245ml", 450),
        ("娃哈哈营养快线 500ml", "Wahaha Nutri-Express 500ml", 500),
        ("雀巢咖啡丝滑拿铁 268ml", "Nescafe Smooth Latte 268ml", 650),
        ("农夫山泉 NFC 橙汁 300ml", "Nongfu Spring NFC Orange Juice 300ml", 800),
    ]),
    ("02", "乳制品", "上海乳品配送", VAT, "piece", [
        ("伊利纯牛奶 250ml", "Yili Pure Milk 250ml", 350),
        ("伊利纯牛奶 250ml×16盒", "Yili Pure Milk 250ml x16", 5990),
        ("蒙牛纯牛奶 250ml", "Mengniu Pure Milk 250ml", 330),
        ("特仑苏纯牛奶 250ml×12盒", "Deluxe Pure Milk 250ml x12", 6590),
        ("光明鲜牛奶 950ml", "Bright Fresh Milk 950ml", 1590, {"tax": VAT_AGRI}),
        ("每日鲜语鲜牛奶 950ml", "Shiny Meadow Fresh Milk 950ml", 1890, {"tax": VAT_AGRI}),
        ("光明优倍鲜牛奶 450ml", "Bright Youbei Fresh Milk 450ml", 980, {"tax": VAT_AGRI}),
        ("安慕希希腊风味酸奶 205g", "Ambrosial Greek Style Yogurt 205g", 650),
        ("纯甄风味酸奶 200g", "Just Yogurt 200g", 600),
        ("光明莫斯利安酸奶 200g", "Bright Momchilovtsi Yogurt 200g", 650),
        ("简爱原味酸奶 100g×6杯", "Simplelove Plain Yogurt 100g x6", 1990),
        ("养乐多活菌型乳酸菌饮品 100ml×5瓶", "Yakult 100ml x5", 1150),
        ("旺仔牛奶 245ml", "Want Want Milk 245ml", 450),
        ("蒙牛真果粒 250g", "Mengniu Fruit Pieces Milk Drink 250g", 400),
        ("伊利QQ星儿童成长牛奶 125ml×4盒", "Yili QQ Star Kids Milk 125ml x4", 1200),
        ("妙可蓝多奶酪棒 100g", "Milkground Cheese Sticks 100g", 2290),
        ("安佳黄油 227g", "Anchor Butter 227g", 2990),
        ("维他奶原味豆奶 250ml", "Vitasoy Original Soy Milk 250ml", 350),
        ("三元纯牛奶 250ml", "Sanyuan Pure Milk 250ml", 330),
        ("君乐宝简醇0蔗糖酸奶 150g", "Junlebao Jianchun Sugar-Free Yogurt 150g", 550),
    ]),
    ("03", "零食", "好味零食批发", VAT, "piece", [
        ("乐事原味薯片 70g", "Lay's Classic Potato Chips 70g", 750),
        ("乐事黄瓜味薯片 70g", "Lay's Cucumber Potato Chips 70g", 750),
        ("可比克番茄味薯片 45g", "Copico Tomato Potato Chips 45g", 450),
        ("品客原味薯片 110g", "Pringles Original 110g", 1150),
        ("奥利奥原味夹心饼干 97g", "Oreo Original Cookies 97g", 690),
        ("好丽友巧克力派 6枚", "Orion Choco Pie 6 pcs", 1290),
        ("旺旺雪饼 84g", "Want Want Senbei Rice Crackers 84g", 590),
        ("旺旺仙贝 52g", "Want Want Shelly Senbei 52g", 450),
        ("德芙丝滑牛奶巧克力 43g", "Dove Silky Milk Chocolate 43g", 790),
        ("士力架花生夹心巧克力 51g", "Snickers Peanut Bar 51g", 550),
        ("益达木糖醇口香糖 40粒", "Extra Xylitol Gum 40 pcs", 1190),
        ("绿箭薄荷口香糖 5片", "Doublemint Gum 5 sticks", 150),
        ("三只松鼠每日坚果 25g", "Three Squirrels Daily Nuts 25g", 450),
        ("洽洽香瓜子 260g", "ChaCha Roasted Sunflower Seeds 260g", 990),
        ("卫龙大面筋辣条 106g", "Weilong Spicy Gluten Strips 106g", 550),
        ("良品铺子猪肉脯 100g", "Bestore Pork Jerky 100g", 1990),
        ("口水娃兰花豆 108g", "Koushuiwa Fried Broad Beans 108g", 480),
        ("大白兔奶糖 114g", "White Rabbit Creamy Candy 114g", 1090),
        ("徐福记酥心糖 200g", "Hsu Fu Chi Crispy Candy 200g", 1490),
        ("溜溜梅青梅 160g", "Liuliumei Green Plum 160g", 1290),
        ("盼盼法式小面包 200g", "Panpan French Mini Bread 200g", 990),
        ("达利园蛋黄派 250g", "Daliyuan Egg Yolk Pie 250g", 1190),
        ("亲亲虾条 40g", "QinQin Shrimp Crackers 40g", 350),
    ]),
    ("04", "方便食品", "好味零食批发", VAT, "piece", [
        ("康师傅红烧牛肉面 105g", "Master Kong Braised Beef Noodles 105g", 350),
        ("康师傅红烧牛肉面 五连包", "Master Kong Braised Beef Noodles 5-pack", 1450),
        ("康师傅老坛酸菜牛肉面 桶装", "Master Kong Pickled Cabbage Beef Noodles Cup", 550),
        ("统一老坛酸菜牛肉面 121g", "Uni-President Pickled Cabbage Beef Noodles 121g", 350),
        ("统一汤达人日式豚骨拉面", "Uni-President Soup Master Tonkotsu Ramen", 650),
        ("今麦郎一桶半红烧牛肉面", "Jinmailang Big Bowl Braised Beef Noodles", 500),
        ("白象汤好喝老母鸡汤面", "Baixiang Old Hen Soup Noodles", 550),
        ("日清合味道海鲜风味杯面", "Nissin Cup Noodle Seafood", 650),
        ("李子柒柳州螺蛳粉 335g", "Li Ziqi Liuzhou River Snail Rice Noodles 335g", 1590),
        ("好欢螺螺蛳粉 400g", "Haohuanluo River Snail Rice Noodles 400g", 1490),
        ("自嗨锅麻辣牛肉自热火锅", "Zihaiguo Spicy Beef Self-Heating Hot Pot", 3290),
        ("海底捞番茄牛腩自热米饭", "Haidilao Tomato Beef Brisket Self-Heating Rice", 2490),
        ("双汇王中王火腿肠 240g", "Shuanghui King Ham Sausage 240g", 1090),
        ("金锣肉粒多火腿肠 60g", "Jinluo Meaty Ham Sausage 60g", 250),
        ("梅林午餐肉罐头 340g", "Maling Luncheon Meat 340g", 1890),
        ("银鹭好粥道八宝粥 280g", "Yinlu Eight Treasure Congee 280g", 450),
        ("娃哈哈八宝粥 360g", "Wahaha Eight Treasure Congee 360g", 450),
        ("桂格即食燕麦片 1000g", "Quaker Instant Oatmeal 1000g", 2590),
        ("南方黑芝麻糊 600g", "Nanfang Black Sesame Paste 600g", 2190),
        ("乌江涪陵榨菜 80g", "Wujiang Fuling Pickled Mustard 80g", 250),
    ]),
    ("05", "粮油调味", "上海粮油公司", VAT, "piece", [
        ("金龙鱼东北大米 5kg", "Arawana Northeast Rice 5kg", 4590, {"tax": VAT_AGRI}),
        ("福临门五常大米 5kg", "Fortune Wuchang Rice 5kg", 6990, {"tax": VAT_AGRI}),
        ("香满园特一粉 5kg", "Xiangmanyuan Premium Wheat Flour 5kg", 3290, {"tax": VAT_AGRI}),
        ("金龙鱼1:1:1调和油 5L", "Arawana 1:1:1 Blended Cooking Oil 5L", 7990, {"tax": VAT_AGRI}),
        ("鲁花5S压榨一级花生油 5L", "Luhua 5S Pressed Peanut Oil 5L", 15990, {"tax": VAT_AGRI}),
        ("福临门大豆油 5L", "Fortune Soybean Oil 5L", 6490, {"tax": VAT_AGRI}),
        ("陈克明鸡蛋挂面 1kg", "Chenkeming Egg Noodles 1kg", 1290),
        ("海天金标生抽 1.28L", "Haday Golden Label Light Soy Sauce 1.28L", 1590),
        ("海天老抽王 500ml", "Haday Superior Dark Soy Sauce 500ml", 990),
        ("李锦记旧庄蚝油 510g", "Lee Kum Kee Oyster Sauce 510g", 1690),
        ("恒顺镇江香醋 500ml", "Hengshun Zhenjiang Vinegar 500ml", 850),
        ("老干妈风味豆豉油制辣椒 280g", "Lao Gan Ma Chili Crisp with Black Beans 280g", 1150),
        ("太太乐鸡精 200g", "Totole Chicken Bouillon 200g", 990),
        ("中盐加碘精制盐 400g", "China Salt Iodized Refined Salt 400g", 300),
        ("太古优级白砂糖 454g", "Taikoo Fine White Sugar 454g", 790),
        ("王守义十三香 45g", "Wang Shouyi Thirteen Spices 45g", 450),
        ("鹃城牌郫县豆瓣酱 500g", "Juancheng Pixian Chili Bean Paste 500g", 1090),
        ("亨氏番茄酱 300g", "Heinz Tomato Ketchup 300g", 990),
        ("老恒和料酒 500ml", "Laohenghe Cooking Wine 500ml", 690),
        ("好人家手工全型牛油火锅底料 400g", "Haorenjia Beef Tallow Hot Pot Base 400g", 1690),
    ]),
    ("06", "酒水", "沪江酒类批发", VAT, "piece", [
        ("青岛啤酒经典 500ml 罐装", "Tsingtao Classic Beer 500ml Can", 650, {"barcode": "two"}),
        ("青岛啤酒纯生 500ml", "Tsingtao Draft Beer 500ml", 700),
        ("雪花勇闯天涯 500ml 罐装", "Snow Brave the World Beer 500ml Can", 500),
        ("百威啤酒 500ml 罐装", "Budweiser 500ml Can", 750),
        ("哈尔滨冰纯啤酒 500ml", "Harbin Ice Beer 500ml", 450),
        ("燕京U8啤酒 500ml", "Yanjing U8 Beer 500ml", 600),
        ("乌苏啤酒 620ml", "Wusu Beer 620ml", 800),
        ("福佳白啤酒 330ml", "Hoegaarden White 330ml", 1200),
        ("科罗娜啤酒 330ml", "Corona Extra 330ml", 1000),
        ("红星二锅头 56度 500ml", "Red Star Erguotou 56% 500ml", 2000),
        ("牛栏山陈酿 42度 500ml", "Niulanshan Chenniang 42% 500ml", 1500),
        ("江小白 40度 100ml", "Jiangxiaobai 40% 100ml", 2000),
        ("洋河海之蓝 52度 480ml", "Yanghe Ocean Blue 52% 480ml", 15900),
        ("泸州老窖头曲 52度 500ml", "Luzhou Laojiao Touqu 52% 500ml", 6800),
        ("古越龙山绍兴黄酒 五年陈 500ml", "Guyue Longshan Shaoxing Rice Wine 5-Year 500ml", 2890),
        ("张裕干红葡萄酒 750ml", "Changyu Dry Red Wine 750ml", 6800),
        ("长城干红葡萄酒 750ml", "Great Wall Dry Red Wine 750ml", 5800),
        ("RIO微醺鸡尾酒 330ml", "RIO Micro-Tipsy Cocktail 330ml", 700),
    ]),
    ("07", "日化清洁", "洁美日化批发", VAT, "piece", [
        ("立白洗洁精 1.12kg", "Liby Dishwashing Liquid 1.12kg", 1290),
        ("白猫洗洁精 500g", "White Cat Dishwashing Liquid 500g", 590),
        ("蓝月亮深层洁净洗衣液 3kg", "Blue Moon Deep Clean Laundry Liquid 3kg", 4990),
        ("奥妙洗衣液 3kg", "OMO Laundry Liquid 3kg", 4590),
        ("汰渍洗衣粉 1.65kg", "Tide Laundry Powder 1.65kg", 2790),
        ("雕牌洗衣皂 202g×2块", "Diao Laundry Soap 202g x2", 790),
        ("立白洗衣凝珠 30颗", "Liby Laundry Pods 30 pcs", 3990),
        ("超能天然皂粉 1.5kg", "Chaoneng Natural Soap Powder 1.5kg", 2990),
        ("威猛先生厨房重油污净 500g", "Mr Muscle Kitchen Degreaser 500g", 2290),
        ("蓝月亮洁厕灵 600g", "Blue Moon Toilet Cleaner 600g", 990),
        ("滴露消毒液 1.2L", "Dettol Disinfectant 1.2L", 5990),
        ("巧手84消毒液 1.2kg", "Qiaoshou 84 Disinfectant 1.2kg", 1190),
        ("维达超韧抽纸 3层100抽×6包", "Vinda Tough Facial Tissue 3-ply 100 x6", 2290),
        ("清风原木纯品卷纸 4层×10卷", "Breeze Log Toilet Roll 4-ply x10", 3290),
        ("心相印茶语手帕纸 10包", "Hearttex Tea Pocket Tissues 10 packs", 690),
        ("妙洁保鲜袋 中号 150只", "Miaojie Food Storage Bags Medium 150 pcs", 1290),
        ("妙洁点断式垃圾袋 45×50cm 100只", "Miaojie Garbage Bags 45x50cm 100 pcs", 990),
        ("雷达电热蚊香液 45ml", "Raid Electric Mosquito Repellent Liquid 45ml", 2490),
    ]),
    ("08", "个人护理", "洁美日化批发", VAT, "piece", [
        ("高露洁全效防蛀牙膏 120g", "Colgate Total Toothpaste 120g", 1590),
        ("佳洁士盐白牙膏 140g", "Crest Salt Whitening Toothpaste 140g", 1290),
        ("云南白药牙膏 180g", "Yunnan Baiyao Toothpaste 180g", 3990),
        ("黑人双重薄荷牙膏 225g", "Darlie Double Action Toothpaste 225g", 1890),
        ("舒适达抗敏感牙膏 120g", "Sensodyne Sensitive Toothpaste 120g", 3290),
        ("高露洁超软毛牙刷", "Colgate Ultra Soft Toothbrush", 990),
        ("海飞丝去屑洗发露 400ml", "Head & Shoulders Anti-Dandruff Shampoo 400ml", 4990),
        ("潘婷乳液修护洗发露 500g", "Pantene Repair Shampoo 500g", 4590),
        ("清扬男士去屑洗发露 400g", "Clear Men Anti-Dandruff Shampoo 400g", 4990),
        ("飘柔家庭护理洗发露 750ml", "Rejoice Family Care Shampoo 750ml", 3990),
        ("舒肤佳纯白清香沐浴露 720ml", "Safeguard Pure White Body Wash 720ml", 3790),
        ("舒肤佳香皂 108g", "Safeguard Soap 108g", 490),
        ("六神花露水 195ml", "Liushen Floral Water 195ml", 1290),
        ("大宝SOD蜜 200ml", "Dabao SOD Lotion 200ml", 1590),
        ("曼秀雷敦润唇膏 3.5g", "Mentholatum Lip Balm 3.5g", 1990),
        ("吉列威锋旋转双层剃须刀", "Gillette Vector Razor", 2190),
        ("七度空间少女系列卫生巾 日用 10片", "Space 7 Sanitary Pads Day 10 pcs", 1290),
        ("苏菲弹力贴身卫生巾 夜用 8片", "Sofy Elastic Night Pads 8 pcs", 1590),
        ("洁柔湿巾 80片", "C&S Wet Wipes 80 pcs", 1290),
    ]),
    ("09", "母婴", "安心母婴供应链", VAT, "piece", [
        ("帮宝适超薄干爽纸尿裤 L码 52片", "Pampers Ultra-Thin Diapers L 52 pcs", 11900),
        ("好奇金装纸尿裤 M码 60片", "Huggies Gold Diapers M 60 pcs", 12900),
        ("花王妙而舒纸尿裤 M码 64片", "Merries Diapers M 64 pcs", 13900),
        ("飞鹤星飞帆婴儿配方奶粉 1段 700g", "Feihe Astrobaby Infant Formula Stage 1 700g", 29800),
        ("君乐宝至臻较大婴儿配方奶粉 2段 800g", "Junlebao Zhizhen Follow-on Formula Stage 2 800g", 22800),
        ("伊利金领冠幼儿配方奶粉 3段 900g", "Yili Pro-Kido Growing-up Formula Stage 3 900g", 25800),
        ("亨氏婴儿营养米粉 225g", "Heinz Infant Rice Cereal 225g", 3690),
        ("贝亲婴儿洗发沐浴露 200ml", "Pigeon Baby Shampoo & Body Wash 200ml", 3990),
        ("强生婴儿润肤露 100ml", "Johnson's Baby Lotion 100ml", 2290),
        ("全棉时代婴儿棉柔巾 100抽", "Purcotton Baby Cotton Tissues 100 pcs", 1990),
        ("贝亲婴儿湿巾 80片", "Pigeon Baby Wipes 80 pcs", 1690),
        ("小鹿蓝蓝宝宝米饼 41g", "Xiaolu Lanlan Baby Rice Crackers 41g", 1590),
        ("英氏宝宝营养面条 200g", "Engnice Baby Noodles 200g", 1990),
        ("嘉宝苹果泥 113g", "Gerber Apple Puree 113g", 1390),
    ]),
    ("10", "冷冻食品", "冷链食品配送", VAT, "piece", [
        ("思念猪肉白菜水饺 500g", "Synear Pork & Napa Cabbage Dumplings 500g", 1290),
        ("三全灌汤猪肉水饺 1kg", "Sanquan Soup Pork Dumplings 1kg", 2490),
        ("湾仔码头荠菜猪肉水饺 720g", "Wanchai Ferry Shepherd's Purse Pork Dumplings 720g", 3590),
        ("思念黑芝麻汤圆 500g", "Synear Black Sesame Tangyuan 500g", 1290),
        ("思念原味手抓饼 10片 900g", "Synear Scallion Pancakes 10 pcs 900g", 2190),
        ("三全奶黄包 360g", "Sanquan Custard Buns 360g", 1390),
        ("广州酒家叉烧包 300g", "Guangzhou Restaurant BBQ Pork Buns 300g", 1890),
        ("安井鱼丸 400g", "Anjoy Fish Balls 400g", 1390),
        ("安井牛肉丸 250g", "Anjoy Beef Balls 250g", 1590),
        ("正大香煎鸡胸肉 500g", "CP Pan-Fried Chicken Breast 500g", 2990),
        ("国联冷冻虾仁 250g", "Guolian Frozen Peeled Shrimp 250g", 3590),
        ("和路雪梦龙香草冰淇淋 64g", "Wall's Magnum Vanilla 64g", 1000),
        ("伊利巧乐兹巧克力脆皮雪糕", "Yili Qiaolezi Chocolate Ice Cream Bar", 500),
        ("蒙牛随变冰淇淋", "Mengniu Suibian Ice Cream Cone", 500),
        ("伊利冰工厂山楂味冰棍", "Yili Ice Factory Hawthorn Ice Pop", 250),
        ("八喜香草冰淇淋 550g", "Bud's Vanilla Ice Cream 550g", 3990),
    ]),
    ("11", "水果", "本地果蔬合作社", VAT_AGRI, "kg", [
        ("富士苹果", "Fuji Apple", 1196),
        ("蛇果", "Red Delicious Apple", 1596),
        ("香蕉", "Banana", 698),
        ("砂糖橘", "Shatang Mandarin", 996),
        ("赣南脐橙", "Gannan Navel Orange", 1196),
        ("库尔勒香梨", "Korla Fragrant Pear", 1396),
        ("皇冠梨", "Crown Pear", 796),
        ("巨峰葡萄", "Kyoho Grape", 1596),
        ("阳光玫瑰葡萄", "Shine Muscat Grape", 3996, {"supplier": "江南鲜果批发"}),
        ("麒麟西瓜", "Qilin Watermelon", 396),
        ("哈密瓜", "Hami Melon", 796),
        ("红心火龙果", "Red Dragon Fruit", 1596, {"supplier": "江南鲜果批发"}),
        ("台农芒果", "Tainong Mango", 1196, {"supplier": "江南鲜果批发"}),
        ("徐香猕猴桃", "Xuxiang Kiwifruit", 1596),
        ("海南菠萝", "Hainan Pineapple", 796, {"supplier": "江南鲜果批发"}),
        ("丹东草莓", "Dandong Strawberry", 4996),
        ("智利车厘子", "Chilean Cherries", 7996, {"supplier": "江南鲜果批发"}),
        ("黄柠檬", "Lemon", 1196),
        ("无锡水蜜桃", "Wuxi Juicy Peach", 1396),
        ("泰国山竹", "Thai Mangosteen", 3996, {"supplier": "江南鲜果批发"}),
        ("圣女果", "Cherry Tomato", 996),
    ]),
    ("12", "蔬菜", "本地果蔬合作社", VAT_AGRI, "kg", [
        ("大白菜", "Napa Cabbage", 298),
        ("上海青", "Shanghai Bok Choy", 598),
        ("西红柿", "Tomato", 698),
        ("黄瓜", "Cucumber", 598),
        ("土豆", "Potato", 398),
        ("胡萝卜", "Carrot", 398),
        ("洋葱", "Onion", 398),
        ("青椒", "Green Pepper", 798),
        ("长茄子", "Chinese Eggplant", 698),
        ("西兰花", "Broccoli", 998),
        ("菠菜", "Spinach", 798),
        ("西芹", "Celery", 598),
        ("生菜", "Lettuce", 798),
        ("大葱", "Welsh Onion", 598),
        ("生姜", "Ginger", 1198),
        ("大蒜", "Garlic", 998),
        ("白萝卜", "Daikon Radish", 298),
        ("莲藕", "Lotus Root", 998),
        ("铁棍山药", "Chinese Yam", 1198),
        ("鲜香菇", "Fresh Shiitake Mushroom", 1598),
        ("绿豆芽", "Mung Bean Sprouts", 398),
    ]),
    ("13", "熟食", "城南熟食加工厂", VAT, "kg", [
        ("卤鸭脖", "Braised Duck Neck", 5980),
        ("卤鸡爪", "Braised Chicken Feet", 4980),
        ("南京盐水鸭", "Nanjing Salted Duck", 5600),
        ("五香酱牛肉", "Five-Spice Braised Beef", 13800),
        ("白切鸡", "White Cut Chicken", 5600),
        ("脆皮烤鸭", "Crispy Roast Duck", 5800),
        ("蜜汁叉烧", "Honey BBQ Pork", 7800),
        ("卤猪耳", "Braised Pig Ear", 6800),
        ("凉拌海带丝", "Kelp Salad", 2400),
        ("茶叶蛋", "Tea Egg", 150, {"unit": "piece", "barcode": "none"}),
        ("鲜肉大包", "Fresh Pork Bun", 250, {"unit": "piece", "barcode": "none"}),
    ]),
    ("14", "烘焙", "", VAT, "piece", [
        ("原味吐司 400g", "Plain Toast Loaf 400g", 1290, {"barcode": "none"}),
        ("全麦吐司 400g", "Whole Wheat Toast Loaf 400g", 1490, {"barcode": "none"}),
        ("肉松小贝", "Pork Floss Sponge Bun", 600, {"barcode": "none"}),
        ("黄油牛角包", "Butter Croissant", 650, {"barcode": "none"}),
        ("菠萝包", "Pineapple Bun", 550, {"barcode": "none"}),
        ("葡式蛋挞 2只装", "Portuguese Egg Tarts 2 pcs", 990, {"barcode": "none"}),
        ("毛毛虫面包", "Caterpillar Cream Bread", 590),
        ("提拉米苏切块", "Tiramisu Slice", 1590, {"barcode": "none"}),
        ("芝士蛋糕切块", "Cheesecake Slice", 1690, {"barcode": "none"}),
        ("奶油泡芙 4只装", "Cream Puffs 4 pcs", 1290, {"barcode": "none"}),
        ("桃李醇熟切片面包 400g", "Toly Mellow Sliced Bread 400g", 1090, {"supplier": "桃李面包上海配送"}),
    ]),
]


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10: weights 3,1,3,1… from the rightmost body digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def round_down(fen: int, step: int) -> int:
    return fen // step * step


def generate() -> str:
    rng = random.Random(SEED)
    used_codes = set()

    def new_ean13() -> str:
        while True:
            body = str(rng.randint(690, 695)) + "".join(str(rng.randint(0, 9)) for _ in range(9))
            code = body + str(gs1_check_digit(body))
            if code not in used_codes:
                used_codes.add(code)
                return code

    plu_next = {"水果": 10001, "蔬菜": 20001, "熟食": 30001}

    rows = []
    for cat_code, category, default_supplier, default_tax, default_unit, items in CATEGORIES:
        for n, item in enumerate(items, start=1):
            name_zh, name_en, price = item[:3]
            opts = item[3] if len(item) > 3 else {}
            unit = opts.get("unit", default_unit)
            tax = opts.get("tax", default_tax)
            supplier = opts.get("supplier", default_supplier)
            barcode = opts.get("barcode", "one")

            if barcode == "none":
                codes = []
            elif unit == "kg":
                codes = [str(plu_next[category])]
                plu_next[category] += 1
            else:
                codes = [new_ean13() for _ in range(2 if barcode == "two" else 1)]

            # About a third of the products carry a member price 5–15 % off, in whole jiao.
            member = ""
            if rng.random() < 0.35:
                m = round_down(price * rng.randint(85, 95) // 100, 10)
                if 0 < m < price:
                    member = str(m)

            # Cost 70–85 % of the shelf price; left empty (unknown) for a few products.
            cost = "" if rng.random() < 0.04 else str(price * rng.randint(70, 85) // 100)

            if rng.random() < 0.08:
                reorder = ""
            elif unit == "kg":
                reorder = str(rng.randint(3, 20) * 1000)  # grams
            elif price >= 10000:
                reorder = str(rng.randint(2, 4))
            elif price >= 2000:
                reorder = str(rng.randint(4, 10))
            else:
                reorder = str(rng.choice([12, 12, 24, 24, 36, 48]))

            rows.append([
                f"SKU-{cat_code}{n:04d}", "|".join(codes), name_zh, name_en, category, unit,
                str(price), member, cost, str(tax), supplier, reorder,
            ])

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src/demo/catalog.csv"
    text = generate()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    lines = text.count("\n") - 1
    print(f"wrote {lines} products to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
